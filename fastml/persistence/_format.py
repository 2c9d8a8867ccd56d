"""The file layout: a zip of ``manifest.json`` plus one ``.npy`` member per array.

Design: the file is read from its zip central directory without extracting anything to disk, so
member names are only ever dictionary keys; they are checked anyway (flat names, no ``..``, no
``/``, no backslash) and must match the manifest exactly. Every declared size is compared with the
limits before a byte is decompressed, every read is bounded by the declared size (a lying header
cannot inflate past it: zipfile stops there and checks the CRC), and every array member is hashed
(sha256 over the member's bytes) before ``np.load(allow_pickle=False)`` parses it. Saving writes a
temporary file in the target's directory and moves it into place with ``os.replace``, so a reader
sees either the old file or the new one, never a half-written one.
"""
import hashlib
import io
import json
import math
import os
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass

import numpy as np

from ._errors import ModelFileError

FORMAT_NAME = "fastml-model"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
ARRAY_MEMBER = re.compile(r"array_\d{5}\.npy")
# dtypes an array member may have: booleans, integers, floats, complex, fixed-width strings
ARRAY_DTYPE = re.compile(r"[<>|=]?(b1|[iuf]\d{1,2}|c\d{1,2}|[US]\d{1,9})")
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: the same model gives the same bytes
_READ_CHUNK = 1 << 20

_MiB = 1 << 20
_GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """Size caps applied when reading (and checked when writing) a model file.

    Parameters
    ----------
    max_total_bytes : int
        Uncompressed size of all members together (declared and actual). Default 2 GiB.
    max_array_bytes : int
        Uncompressed size of one array member. Default 1 GiB.
    max_manifest_bytes : int
        Size of ``manifest.json``. Default 64 MiB.
    max_members : int
        Number of members in the archive. Default 100 000.
    """

    max_total_bytes: int = 2 * _GiB
    max_array_bytes: int = 1 * _GiB
    max_manifest_bytes: int = 64 * _MiB
    max_members: int = 100_000

    def __post_init__(self):
        for name in ("max_total_bytes", "max_array_bytes", "max_manifest_bytes", "max_members"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


def array_member_name(index):
    return f"array_{index:05d}.npy"


def npy_bytes(array):
    """The ``.npy`` serialization of ``array`` (never pickled: object arrays are refused)."""
    if array.dtype.hasobject:
        raise TypeError("object arrays cannot be saved without pickle")
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


# -- writing --------------------------------------------------------------------------------------
def write_model_file(path, manifest, arrays, limits, *, compress=True):
    """Write ``manifest`` and ``arrays`` (list of ndarrays, member ``array_{i}.npy``) atomically.

    The manifest's ``arrays`` table (shape, dtype, sha256) is filled here, while each array is
    serialized, and ``manifest.json`` is written last. On any failure the temporary file is removed
    and an existing file at ``path`` is left untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    # checked here: the temporary file's error named a hidden '.name.xyz.tmp', not the path given
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save the model to {path!r}: it is a directory")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save the model to {path!r}: no directory {directory!r}")
    if len(arrays) + 1 > limits.max_members:
        raise ValueError(f"the model has {len(arrays)} arrays, over max_members={limits.max_members}")
    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    descriptor, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            with zipfile.ZipFile(handle, "w", compression=compression) as archive:
                total = 0
                table = manifest["arrays"]
                for index, array in enumerate(arrays):
                    data = npy_bytes(array)
                    if len(data) > limits.max_array_bytes:
                        raise ValueError(f"array {table[index]['name']!r} is {len(data)} bytes, over "
                                         f"max_array_bytes={limits.max_array_bytes}")
                    total += len(data)
                    table[index].update(shape=list(array.shape), dtype=array.dtype.str,
                                        sha256=hashlib.sha256(data).hexdigest())
                    archive.writestr(_member_info(table[index]["member"], compression), data)
                text = json.dumps(manifest, indent=1, allow_nan=False).encode("utf-8")
                if len(text) > limits.max_manifest_bytes:
                    raise ValueError(f"the manifest is {len(text)} bytes, over max_manifest_bytes="
                                     f"{limits.max_manifest_bytes}")
                if total + len(text) > limits.max_total_bytes:
                    raise ValueError(f"the model is {total + len(text)} bytes, over max_total_bytes="
                                     f"{limits.max_total_bytes}")
                archive.writestr(_member_info(MANIFEST_NAME, compression), text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _file_mode(path))
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)
    return path


def _member_info(name, compression):
    info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    return info


def _file_mode(path):
    """The mode of the file being replaced, else 0o666 minus the umask (mkstemp creates 0o600).

    The umask is read from /proc (Linux) rather than with os.umask, which would change it for every
    thread of the process for a moment; elsewhere 0o022 is assumed.
    """
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        pass
    umask = 0o022
    try:
        with open("/proc/self/status") as status:
            umask = next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    return 0o666 & ~umask


def _fsync_directory(directory):
    """Make the rename durable where the platform allows (best effort; not on Windows)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# -- reading --------------------------------------------------------------------------------------
class ModelFileReader:
    """Checked access to an open model file: the member listing, the manifest, then the arrays.

    Every method raises :class:`ModelFileError` for a defect of the file. ``handle`` is a binary
    file object opened by the caller (errors opening the path keep their own types).
    """

    def __init__(self, handle, limits, *, description="model file"):
        self.limits = limits
        self.description = description
        head = handle.read(4)
        handle.seek(0)
        if head[:1] == b"\x80" or head[:2] in (b"(d", b"(l", b"cc"):
            raise ModelFileError(f"{description} looks like a pickle file; fastml never loads pickle. "
                                 "Save the model with fastml.save.")
        if head[:2] != b"PK":
            raise ModelFileError(f"{description} is not a fastml model file (not a zip archive)")
        size = os.fstat(handle.fileno()).st_size if hasattr(handle, "fileno") else None
        if size is not None and size > limits.max_total_bytes + limits.max_manifest_bytes + 16 * _MiB:
            raise ModelFileError(f"{description} is {size} bytes, over the size limit")
        try:
            self.archive = zipfile.ZipFile(handle, "r")
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
            raise ModelFileError(f"{description} is not a valid zip archive (truncated or corrupted): {exc}") \
                from exc
        self.members = self._check_listing()

    def _check_listing(self):
        infos = self.archive.infolist()
        if len(infos) > self.limits.max_members:
            raise ModelFileError(f"{self.description} has {len(infos)} members, over max_members="
                                 f"{self.limits.max_members}")
        members, total = {}, 0
        for info in infos:
            name = info.filename
            if (not name or name.startswith(("/", "\\")) or "\\" in name or "/" in name or ".." in name
                    or ":" in name or "\x00" in name or name.startswith(".")):
                raise ModelFileError(f"{self.description} has an unsafe member name {name!r} "
                                     "(path components are not allowed)")
            if name in members:
                raise ModelFileError(f"{self.description} has the member {name!r} twice")
            if name != MANIFEST_NAME and not ARRAY_MEMBER.fullmatch(name):
                raise ModelFileError(f"{self.description} has an unexpected member {name!r}")
            if info.flag_bits & 0x1:
                raise ModelFileError(f"{self.description}: member {name!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ModelFileError(f"{self.description}: member {name!r} uses an unsupported compression")
            cap = self.limits.max_manifest_bytes if name == MANIFEST_NAME else self.limits.max_array_bytes
            if info.file_size > cap:
                raise ModelFileError(f"{self.description}: member {name!r} declares {info.file_size} bytes "
                                     f"uncompressed, over the limit of {cap} (zip bomb?)")
            total += info.file_size
            members[name] = info
        if total > self.limits.max_total_bytes:
            raise ModelFileError(f"{self.description} declares {total} bytes uncompressed, over max_total_bytes="
                                 f"{self.limits.max_total_bytes} (zip bomb?)")
        if MANIFEST_NAME not in members:
            raise ModelFileError(f"{self.description} has no {MANIFEST_NAME}: not a fastml model file")
        return members

    def read_member(self, name):
        """The bytes of one member, never more than its declared size (checked against the CRC)."""
        info = self.members[name]
        chunks, size = [], 0
        try:
            with self.archive.open(info) as stream:
                while True:
                    chunk = stream.read(min(_READ_CHUNK, info.file_size - size + 1))
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > info.file_size:
                        raise ModelFileError(f"{self.description}: member {name!r} is larger than declared")
                    chunks.append(chunk)
        except ModelFileError:
            raise
        except Exception as exc:  # zlib.error, BadZipFile (CRC), EOFError, struct.error, ...
            raise ModelFileError(f"{self.description}: member {name!r} is corrupted: {exc}") from exc
        if size != info.file_size:
            raise ModelFileError(f"{self.description}: member {name!r} is shorter than declared")
        return b"".join(chunks)

    def read_manifest(self):
        """The manifest as a dict, with its format, version and array table checked."""
        text = self.read_member(MANIFEST_NAME)
        try:
            manifest = json.loads(text.decode("utf-8"), parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise ModelFileError(f"{self.description}: {MANIFEST_NAME} is not valid JSON: {exc}") from exc
        check_manifest(manifest, self.description)
        listed = {entry["member"] for entry in manifest["arrays"]}
        present = set(self.members) - {MANIFEST_NAME}
        if listed - present:
            raise ModelFileError(f"{self.description}: arrays listed in the manifest are missing: "
                                 f"{sorted(listed - present)[:5]}")
        if present - listed:
            raise ModelFileError(f"{self.description}: members not listed in the manifest: "
                                 f"{sorted(present - listed)[:5]}")
        return manifest

    def read_arrays(self, manifest):
        """Every array of the manifest, each checked for sha256, shape and dtype: {member: ndarray}."""
        arrays = {}
        for entry in manifest["arrays"]:
            data = self.read_member(entry["member"])
            if math.prod(entry["shape"]) * np.dtype(entry["dtype"]).itemsize > len(data):
                # checked before np.load, which allocates the declared shape before reading the data
                raise ModelFileError(f"{self.description}: array {entry['name']!r} is shorter than its shape "
                                     f"{entry['shape']} requires")
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise ModelFileError(f"{self.description}: array {entry['name']!r} fails its sha256 check "
                                     "(the file is corrupted or was modified)")
            try:
                array = np.load(io.BytesIO(data), allow_pickle=False)
            except Exception as exc:
                raise ModelFileError(f"{self.description}: array {entry['name']!r} is not a valid "
                                     f".npy without pickle: {exc}") from exc
            if not isinstance(array, np.ndarray) or array.dtype.hasobject:
                raise ModelFileError(f"{self.description}: array {entry['name']!r} has object dtype")
            if list(array.shape) != entry["shape"] or array.dtype.str != entry["dtype"]:
                raise ModelFileError(f"{self.description}: array {entry['name']!r} has shape {array.shape} "
                                     f"and dtype {array.dtype.str}, the manifest says {entry['shape']} and "
                                     f"{entry['dtype']}")
            arrays[entry["member"]] = array
        return arrays


def _refuse_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def check_manifest(manifest, description="model file"):
    """Check the manifest's top-level schema; raise :class:`ModelFileError` naming the problem."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{description} is not a fastml model file (manifest format is not "
                             f"{FORMAT_NAME!r})")
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{description}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{description} has format version {version}, newer than this fastml reads "
                             f"({FORMAT_VERSION}); upgrade fastml to load it")
    if not isinstance(manifest.get("model"), dict) or not isinstance(manifest.get("estimator"), str):
        raise ModelFileError(f"{description}: the manifest has no model description")
    table = manifest.get("arrays")
    if not isinstance(table, list):
        raise ModelFileError(f"{description}: the manifest's arrays table is missing")
    seen = set()
    for entry in table:
        if not (isinstance(entry, dict) and isinstance(entry.get("member"), str)
                and ARRAY_MEMBER.fullmatch(entry["member"]) and isinstance(entry.get("name"), str)
                and isinstance(entry.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
                and isinstance(entry.get("dtype"), str) and ARRAY_DTYPE.fullmatch(entry["dtype"])
                and isinstance(entry.get("shape"), list)
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in entry["shape"])):
            raise ModelFileError(f"{description}: invalid entry in the arrays table: {str(entry)[:200]}")
        if entry["member"] in seen:
            raise ModelFileError(f"{description}: array member {entry['member']!r} listed twice")
        seen.add(entry["member"])
