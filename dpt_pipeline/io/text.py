"""Text files as offices save them: which encoding, which separator. The one place that decides both, for
the voter lists, the review files a camat sends back and the RT coordinates file.

A configured encoding wins; else a byte-order mark decides (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE); else UTF-16
without a mark is recognised by its NUL bytes; else UTF-8, else cp1252 (old Excel on Windows). A file that
declares (or shows) an encoding it does not keep is refused with its name, never half read. The separator
is the candidate the header line holds most often (`;` first on a tie: Excel in Indonesian settings).
"""

from __future__ import annotations

from pathlib import Path

from dpt_pipeline.errors import InputError

# Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"),
)
SEPARATORS = (";", ",", "\t", "|")


def decode(data: bytes, path: Path, *, encoding: str | None = None, setting: str | None = None,
           strict: bool = True) -> tuple[str, str]:
    """(text, encoding) of the bytes of the file at `path`. `setting` names the configuration key that sets
    the encoding, for the messages (None: there is none, the file must be saved again). Not `strict`: a file
    that breaks the encoding its mark or its NUL bytes show is read as cp1252 instead of refused (a review
    file: its deciding cells are ASCII, and a camat's accented note must not block the import)."""
    or_set = f" or set {setting}" if setting else ""
    if encoding:
        try:
            return data.decode(encoding).removeprefix("\ufeff"), encoding
        except LookupError as e:
            raise InputError(f"unknown encoding {encoding!r}; fix {setting}", path=path) from e
        except UnicodeDecodeError as e:
            raise InputError(f"not valid {encoding} at byte {e.start}; fix {setting}", path=path) from e
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(enc.removesuffix("-sig")), enc
            except UnicodeDecodeError as e:
                if not strict:
                    return data[len(bom):].decode("cp1252", errors="replace"), "cp1252"
                name = enc.removesuffix("-sig").upper()
                raise InputError(f"starts with a {name} byte-order mark but is not {name} at byte "
                                 f"{e.start + len(bom)}; save it again as UTF-8{or_set}", path=path) from e
    guessed = _nul_pattern(data[:4096])
    if guessed == "binary":
        raise InputError("is not a text file (most of its first bytes are NUL): not a CSV"
                         + (f"; if it is UTF-32 without a byte-order mark, set {setting}" if setting else ""),
                         path=path)
    if guessed:
        try:
            return data.decode(guessed), guessed
        except UnicodeDecodeError as e:
            if not strict:
                return data.decode("cp1252", errors="replace"), "cp1252"
            raise InputError(f"looks like {guessed.upper()} without a byte-order mark but is not valid "
                             f"{guessed.upper()} at byte {e.start}; save it again as UTF-8{or_set}", path=path) from e
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Old Excel on Windows. cp1252 leaves five bytes undefined; those few become U+FFFD.
        return data.decode("cp1252", errors="replace"), "cp1252"


def _nul_pattern(sample: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' when NUL bytes fill the odd / even positions of the sample (Latin text in
    UTF-16), 'binary' when NUL bytes are a large part of it otherwise, else None."""
    if len(sample) < 4:
        return None
    half = len(sample) // 2
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    if odd >= 0.3 * half and even <= 0.02 * half:
        return "utf-16-le"
    if even >= 0.3 * half and odd <= 0.02 * half:
        return "utf-16-be"
    if even + odd >= 0.25 * len(sample):
        return "binary"
    return None


def separator(header_line: str, candidates: tuple[str, ...] = SEPARATORS) -> str:
    """The separator of a delimited file, from its header line: the candidate it holds most often (the
    first on a tie), `,` when it holds none."""
    counts = {d: header_line.count(d) for d in candidates}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","
