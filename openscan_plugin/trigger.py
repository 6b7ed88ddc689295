"""placeholder"""
def trigger_from_profile(*a, **k):
    return None
