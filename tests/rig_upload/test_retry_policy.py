"""The retry policy is one object the rig config sets: `cloud.retries` (the older key) and
`cloud.retry`, reaching the client's requests and the worker's pause alike."""
import json

import pytest

from openscan_plugin.cloud.client import CloudClient, TransientError
from openscan_plugin.cloud.retry import RetryPolicy
from openscan_plugin.cloud.settings import load_settings
from openscan_plugin.config import ConfigError


def settings(tmp_path, cloud):
    (tmp_path / "rig.json").write_text(json.dumps({"cloud": cloud}))
    return load_settings(str(tmp_path / "rig.json"), data_dir=tmp_path)


def test_the_config_sets_the_whole_policy(tmp_path):
    s = settings(tmp_path, {"retries": 2, "retry": {"backoff": 0.5, "entry_pause": 3}})
    assert s.retry == RetryPolicy(retries=2, backoff=0.5, entry_pause=3.0)
    assert settings(tmp_path, {}).retry == RetryPolicy()


def test_a_typo_in_the_policy_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cloud.retry: unknown setting.*backof"):
        settings(tmp_path, {"retry": {"backof": 1}})


def test_the_client_gives_up_after_the_policys_tries(tmp_path):
    """Nothing listens on port 9: the retries are spent, then the error says why."""
    slept = []
    client = CloudClient("http://127.0.0.1:9", "x" * 32, retry=RetryPolicy(retries=2, backoff=0.01))
    client.sleep = slept.append
    with pytest.raises(TransientError, match="connection refused"):
        client.token_info()
    package = type("P", (), {"part_range": lambda self, i: (0, 1), "part_length": lambda self, i: 1,
                             "iter_part": lambda self, i, o: iter([b"x"])})()
    with pytest.raises(TransientError, match="gave up after 3 tries"):
        client.upload_part("http://127.0.0.1:9/part", package, 0)
    assert len(slept) == 2                                   # the part loop backs off between tries
