"""One multipart upload streamed straight to a file under a server-made name, size-checked as it
arrives: past the limit the upload stops with 413 and its partial file is removed.

Starlette's own form parser spools every file part to a temporary file before the handler sees
it (no size limit), so the body is parsed here chunk by chunk with python-multipart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

MAX_FIELDS = 8
MAX_FIELD_BYTES = 1024
MAX_HEADER_BYTES = 8 * 1024
FILE_FIELD = "file"
CLIENT_NAME_CHARS = 200


class UploadError(Exception):
    """An upload refused with an HTTP status and one message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Upload:
    """What arrived: the client's file name (for display only), its size, the text fields."""

    filename: str = ""
    size: int = 0
    head: bytes = b""
    fields: dict[str, str] = field(default_factory=dict)


def clean_client_name(name: str) -> str:
    """The client's file name for display: last path part, no control characters, bounded."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:CLIENT_NAME_CHARS] or "upload"


class _Receiver:
    """The parser's callbacks: headers per part, the one file part to ``dest``, small text fields."""

    def __init__(self, dest: Path, max_bytes: int, head_bytes: int) -> None:
        self.dest, self.max_bytes, self.head_bytes = dest, max_bytes, head_bytes
        self.upload = Upload()
        self.fd = -1
        self.files = 0
        self._hname = b""
        self._hvalue = b""
        self._headers: dict[bytes, bytes] = {}
        self._header_bytes = 0
        self._name: str | None = None
        self._is_file = False
        self._value = bytearray()

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.part_begin, "on_header_field": self.header_field,
            "on_header_value": self.header_value, "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished, "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self._headers, self._header_bytes = {}, 0
        self._name, self._is_file, self._value = None, False, bytearray()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._hname += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._hvalue += data[start:end]

    def _count_header(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > MAX_HEADER_BYTES:
            raise UploadError(400, "a multipart part has oversized headers")

    def header_end(self) -> None:
        self._headers[self._hname.lower()] = self._hvalue
        self._hname, self._hvalue = b"", b""

    def headers_finished(self) -> None:
        _, opts = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = opts.get(b"name")
        if name is None:
            raise UploadError(400, "a multipart part has no name")
        self._name = name.decode("utf-8", "replace")
        self._is_file = b"filename" in opts
        if self._is_file:
            if self._name != FILE_FIELD:
                raise UploadError(400, f"upload the video as the form field '{FILE_FIELD}'")
            self.files += 1
            if self.files > 1:
                raise UploadError(400, "one file per job: send each file in its own request")
            self.upload.filename = clean_client_name(opts[b"filename"].decode("utf-8", "replace"))
            self.fd = os.open(self.dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        elif len(self.upload.fields) >= MAX_FIELDS:
            raise UploadError(400, f"at most {MAX_FIELDS} form fields")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if not self._is_file:
            self._value += chunk
            if len(self._value) > MAX_FIELD_BYTES:
                raise UploadError(400, f"form field '{self._name}' is longer than {MAX_FIELD_BYTES} bytes")
            return
        self.upload.size += len(chunk)
        if self.upload.size > self.max_bytes:
            raise UploadError(413, f"the file is larger than the server's limit of "
                                   f"{self.max_bytes // (1024 * 1024)} MB")
        if len(self.upload.head) < self.head_bytes:
            self.upload.head += chunk[: self.head_bytes - len(self.upload.head)]
        view = memoryview(chunk)
        while view:
            view = view[os.write(self.fd, view):]

    def part_end(self) -> None:
        if not self._is_file and self._name is not None:
            self.upload.fields[self._name] = self._value.decode("utf-8", "replace")

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


async def receive_upload(request, dest: Path, max_bytes: int, head_bytes: int = 512) -> Upload:
    """Parse ``request``'s multipart body as it streams; the file part goes to ``dest``.

    Raises UploadError (and leaves no ``dest`` behind) on any refusal.
    """
    ctype, opts = parse_options_header(request.headers.get("content-type"))
    if ctype != b"multipart/form-data" or b"boundary" not in opts:
        raise UploadError(415, "send the video as multipart/form-data (a form field named 'file')")
    receiver = _Receiver(dest, max_bytes, head_bytes)
    parser = MultipartParser(opts[b"boundary"], receiver.callbacks())
    ok = False
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if receiver.files == 0:
            raise UploadError(400, f"no file in the upload (a form field named '{FILE_FIELD}')")
        if receiver.upload.size == 0:
            raise UploadError(415, "the uploaded file is empty")
        ok = True
        return receiver.upload
    except FormParserError as exc:
        raise UploadError(400, f"malformed multipart body: {exc}") from exc
    finally:
        receiver.close()
        if not ok:
            dest.unlink(missing_ok=True)
