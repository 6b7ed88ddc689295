"""A part upload racing resetProject on S3 storage (the multipart upload is aborted under the
write): a clean 4xx, as on local storage (tests/security/test_upload_race.py)."""
import pytest

from ..backend.server import Server
from ..security.test_upload_race import SIZE, check_reset_during_a_part_upload_is_a_clean_4xx
from . import services

pytestmark = [pytest.mark.scale]


@pytest.fixture
def s3():
    s3 = services.S3()
    yield s3
    s3.stop()


def test_reset_during_a_part_upload_to_s3_is_a_clean_4xx(s3, tmp_path):
    import boto3
    server = Server(tmp_path, {"STORAGE_URL": "s3://openscan/race", "S3_ENDPOINT_URL": s3.url,
                               "PART_SIZE": SIZE}, worker=False, env=s3.env)
    try:
        check_reset_during_a_part_upload_is_a_clean_4xx(server)
    finally:
        server.stop()
    bucket = boto3.client("s3", endpoint_url=s3.url, aws_access_key_id="openscan",
                          aws_secret_access_key="openscan-secret", region_name="us-east-1")
    assert bucket.list_objects_v2(Bucket="openscan", Prefix="race/").get("KeyCount", 0) == 0
    assert not bucket.list_multipart_uploads(Bucket="openscan").get("Uploads")
