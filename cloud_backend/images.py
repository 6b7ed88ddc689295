"""What makes a zip entry a photo, read from its bytes without decoding them: a JPEG or PNG
signature, the pixel count its header declares, and where its image data ends. Anything after
the end (a phone's motion-photo video, maker notes) is a trailer: not part of the photo."""

JPEG = b"\xff\xd8\xff"
PNG = b"\x89PNG\r\n\x1a\n"
JPEG_END = b"\xff\xd9"                 # end-of-image marker (cannot occur inside scan data)
PNG_END = b"IEND\xaeB`\x82"            # the IEND chunk with its fixed CRC
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}  # TEM, RSTn: markers without a length field


class ImageError(ValueError):
    """The bytes are not a usable photo; the message says why (without the entry name)."""


def header(head):
    """(width, height, offset where the image data starts) from the first bytes of a photo."""
    if head.startswith(PNG):
        if head[12:16] != b"IHDR" or len(head) < 24:
            raise ImageError("has a damaged PNG header")
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big"), len(PNG)
    if head.startswith(JPEG):
        return _jpeg_header(head)
    raise ImageError("is not a JPEG or PNG image")


def _jpeg_header(head):
    """Walk the marker segments to the first start-of-scan; the frame header gives the size."""
    at, size = 2, None
    while True:
        if at + 4 > len(head):
            raise ImageError(f"has no image data in its first {len(head)} bytes")
        if head[at] != 0xFF:
            raise ImageError("has a damaged JPEG header")
        marker = head[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _NO_LENGTH:
            at += 2
            continue
        if marker == 0xD9:
            raise ImageError("ends before its image data")
        length = int.from_bytes(head[at + 2:at + 4], "big")
        if marker in _SOF and at + 9 <= len(head):
            size = (int.from_bytes(head[at + 7:at + 9], "big"), int.from_bytes(head[at + 5:at + 7], "big"))
        if marker == 0xDA:
            if size is None:
                raise ImageError("has image data but no frame header")
            return (*size, at + 2 + length)
        at += 2 + length


class EndFinder:
    """Fed a photo's bytes in order, finds where its image ends (the first end marker after the
    image data starts); ``end`` is that offset, None until found."""

    def __init__(self, head, data_start):
        self.marker = PNG_END if head.startswith(PNG) else JPEG_END
        self.start, self.seen, self.carry, self.end = data_start, 0, b"", None

    def feed(self, chunk):
        if self.end is None:
            window = self.carry + chunk
            base = self.seen - len(self.carry)
            found = window.find(self.marker, max(0, self.start - base))
            if found >= 0:
                self.end = base + found + len(self.marker)
            self.carry = window[-(len(self.marker) - 1):]
        self.seen += len(chunk)
