"""How a set's bytes are cut into parts: ``parts`` consecutive slices of one size (the last may
be shorter), each at most the server's part limit. The field clients choose the slice size
(OpenScan3's ``split_size``, OpenScan2's ``osc_splitsize``) and do not send it, so unless
``filesize`` and ``parts`` allow only one, the first part that arrives whole fixes it."""


# Every part is an upload link the server signs and answers with, on createProject and every
# getProjectInfo: a set of 1-byte parts would have it sign millions. 10,000 parts is 2 GB in
# 200 KB slices; the field clients send a handful of 200 MB ones.
MAX_PARTS = 10_000


def slice_sizes(filesize, parts, limit):
    """(smallest, largest) slice size that cuts ``filesize`` bytes into exactly ``parts`` slices
    of at most ``limit`` bytes; None when there is none."""
    smallest = -(-filesize // parts)
    largest = smallest if parts == 1 else min(limit, (filesize - 1) // (parts - 1))
    return (smallest, largest) if smallest <= min(largest, limit) else None


def known_size(filesize, parts, limit):
    """The slice size when only one fits, else 0 (learned from the first part)."""
    smallest, largest = slice_sizes(filesize, parts, limit)
    return smallest if smallest == largest else 0


def part_length(filesize, slice_size, index):
    """Exact byte count of part ``index``; None while the slice size is not known."""
    return min(slice_size, filesize - index * slice_size) if slice_size else None


def longest(filesize, parts, limit, index):
    """The most bytes part ``index`` can have under any slice size that fits."""
    smallest, largest = slice_sizes(filesize, parts, limit)
    return largest if index < parts - 1 else filesize - (parts - 1) * smallest


def slice_size_from(filesize, parts, limit, index, size):
    """The slice size implied by part ``index`` arriving with ``size`` bytes; ValueError (with
    the reason) when no split into ``parts`` slices has such a part."""
    smallest, largest = slice_sizes(filesize, parts, limit)
    if index < parts - 1:
        fits = smallest <= size <= largest
        implied = size
    else:
        implied, rest = divmod(filesize - size, parts - 1) if parts > 1 else (size, 0)
        fits = not rest and smallest <= implied <= largest and 0 < size <= implied
    if not fits:
        raise ValueError(f"part {index} cannot be {size} bytes: {filesize} bytes in {parts} parts "
                         f"make parts of {smallest}-{largest} bytes, all but the last of one size")
    return implied


def accept(project, index, size, limit):
    """Check that a whole part of ``size`` bytes fits the project's split; the first fixes the
    project's slice size. ValueError with the reason when it does not fit."""
    expected = project.part_length(index)
    if expected is None:
        project.part_size = slice_size_from(project.filesize, project.parts, limit, index, size)
    elif size != expected:
        raise ValueError(f"part {index} must be exactly {expected} bytes; {size} arrived")
