"""placeholder replaced below"""
def register(main):
    pass
