"""A DICOM query archive: C-FIND in the Study Root information model, at STUDY, SERIES and IMAGE levels (pynetdicom).

One association for the whole harvest (opened again if the archive closed it while we wrote). The identifiers ask
only for the keys below: never PatientName nor PatientBirthDate. C-FIND knows no stored size and no reception time:
the harvest estimates the first (analytics.pacs.sizes) and takes the second from elsewhere (see docs/harvest.md).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from datetime import date

from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pynetdicom import AE
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as STUDY_ROOT_FIND

from analytics.config import DimseSourceConfig
from analytics.dicom_reader import SERIES_INSTANCE_UID, STUDY_INSTANCE_UID
from analytics.errors import SourceError
from analytics.pacs.tags import INSTANCE_KEYS, SERIES_KEYS, SERIES_RELATED_INSTANCES, STUDY_KEYS, tag_number

log = logging.getLogger(__name__)
logging.getLogger("pynetdicom").setLevel(logging.WARNING)  # its debug log dumps identifiers (patient IDs)

_PENDING = (0xFF00, 0xFF01)
STUDIES_PER_PAGE = 20
ASKS = 3  # times a question is asked when pynetdicom dropped one of its answers (_Dropped)
# seconds between a question's last answer and the next question: time for pynetdicom's association thread, woken by
# that answer, to go back to waiting, so that it rarely takes the next question's first answer (_Dropped: the
# question is then asked again; a pause cannot rule it out on a loaded machine)
SETTLE = 0.002


class _Dropped(logging.Filter):
    """Counts the C-FIND answers pynetdicom 3.0 dropped. Its association thread may take the first answer to a
    question asked right after another one, before the question's own reader does (a race in its reactor, woken by
    the last answer: pydicom/pynetdicom#875; SETTLE makes it rare), and only logs "Received unexpected C-FIND
    service message": the answer, a study or an instance, is lost without an error. The count tells
    DimseArchive._find to ask again."""

    MESSAGE = "Received unexpected C-FIND service message"

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() == self.MESSAGE:
            self.count += 1  # one thread increments at a time: pynetdicom's reactor logs it
        return True


DROPPED = _Dropped()
logging.getLogger("pynetdicom.association").addFilter(DROPPED)


def _vr(tag: int) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "LO"  # a private or vendor attribute: asked for as text


def send_at_once(assoc) -> None:
    """Send each of the association's writes at once (TCP_NODELAY), which pynetdicom does not ask for. It writes a
    C-FIND question in more than one send; with Nagle's algorithm a later send waits until the archive acknowledges
    the earlier one, which a Linux peer delays by up to 40 ms: about 50 ms a question, whatever the archive's speed,
    and a harvest asks one per study and per series (2x to 4x slower against Orthanc: docs/benchmarks.md, "DIMSE")."""
    sock = assoc.dul.socket.socket  # None once closed: the association's thread may close it at any time
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError):
        pass  # closed: the first question says so, in one line


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, MultiValue):
        return "\\".join(str(v) for v in value) or None
    if isinstance(value, bytes):
        return value.decode("latin-1").strip("\x00 ") or None
    return str(value)


class DimseArchive:
    """C-FIND SCU of one archive. Not thread-safe: the harvest asks one question at a time."""

    def __init__(self, source: DimseSourceConfig, ae: AE | None = None) -> None:
        """`ae`: the application entity that associates (a test passes one whose association fails on cue); it gets
        the calling AE title, the context and the timeouts of the source."""
        self.source = source
        self.location = f"dimse://{source.called_ae}@{source.host}:{source.port}"
        self._extra = tuple(tag_number(t) for t in (source.sender_ae_tag, source.received_tag, source.size_tag) if t)
        self._ae = ae or AE()
        self._ae.ae_title = source.calling_ae
        self._ae.add_requested_context(STUDY_ROOT_FIND)
        for attribute in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
            setattr(self._ae, attribute, source.timeout)
        self._ae.maximum_pdu_size = source.max_pdu
        self._assoc = None
        self._answered = float("-inf")  # when the last question's last answer came (time.monotonic)

    def close(self) -> None:
        if self._assoc is not None and self._assoc.is_established:
            self._assoc.release()
        self._assoc = None

    # --- what the harvest asks --------------------------------------------------------------------------------

    def studies(self, first: date | None, last: date | None) -> Iterator[list[dict[int, str]]]:
        """The window's studies (C-FIND answers them all at once), in pages of STUDIES_PER_PAGE: each is committed
        on its own, so an outage keeps what was read before it."""
        window = ""
        if first or last:
            window = (f"{first:%Y%m%d}" if first else "") + "-" + (f"{last:%Y%m%d}" if last else "")
        found = self._find("STUDY", STUDY_KEYS, {0x00080020: window})
        for start in range(0, len(found), STUDIES_PER_PAGE):
            yield found[start : start + STUDIES_PER_PAGE]

    def series(self, study_uid: str) -> list[dict[int, str]]:
        return self._find("SERIES", SERIES_KEYS, {STUDY_INSTANCE_UID: study_uid})

    def instances(self, study_uid: str, series_uids: list[str] | None) -> list[dict[int, str]]:
        """IMAGE-level answers of the given series (None: every series), each completed by its series' values."""
        series = {s.get(SERIES_INSTANCE_UID): s for s in self.series(study_uid)}
        out = []
        for uid in series if series_uids is None else series_uids:
            if not uid:
                continue
            above = {k: v for k, v in series.get(uid, {}).items() if k != SERIES_RELATED_INSTANCES}
            images = self._find(
                "IMAGE", INSTANCE_KEYS + self._extra, {STUDY_INSTANCE_UID: study_uid, SERIES_INSTANCE_UID: uid}
            )
            out.extend({**above, **image} for image in images)
        return out

    # --- the association ----------------------------------------------------------------------------------------

    def _find(self, level: str, keys: tuple[int, ...], matching: dict[int, str]) -> list[dict[int, str]]:
        """Every answer to one C-FIND, asked again (ASKS times at most) while pynetdicom drops one (_Dropped)."""
        identifier = Dataset()
        identifier.QueryRetrieveLevel = level
        for tag in dict.fromkeys((*keys, *matching)):
            identifier.add_new(tag, _vr(tag), matching.get(tag) or None)  # empty: return it
        for _ in range(ASKS):
            dropped = DROPPED.count
            try:
                answers = self._ask(level, identifier)
            except SourceError:
                if DROPPED.count == dropped:
                    raise
                self.close()  # the dropped answer was the last: the association waited for it, then aborted
                continue
            if DROPPED.count == dropped:
                return answers
            log.warning("C-FIND at %s level: an answer was dropped by pynetdicom; asking again", level)
        raise self._error(f"had answers to C-FIND at {level} level dropped {ASKS} times in a row: harvest again")

    def _ask(self, level: str, identifier: Dataset) -> list[dict[int, str]]:
        assoc = self._association()
        answers: list[dict[int, str]] = []
        time.sleep(max(0.0, self._answered + SETTLE - time.monotonic()))
        try:
            responses = assoc.send_c_find(identifier, STUDY_ROOT_FIND)
            for status, found in responses:
                if "Status" not in status:
                    raise self._error(
                        f"gave no answer to C-FIND at {level} level (association aborted, or no answer "
                        f"within {self.source.timeout:g} s; may calling AE title "
                        f"'{self.source.calling_ae}' query it?)"
                    )
                if status.Status in _PENDING:
                    if found is None:
                        raise self._error(f"answered C-FIND at {level} level with a match without identifier")
                    answers.append(self._values(found, level))
                elif status.Status != 0x0000:
                    raise self._error(f"failed C-FIND at {level} level with status 0x{status.Status:04X}")
        except RuntimeError as exc:  # the association dropped between two questions
            raise self._error(f"dropped the association before C-FIND at {level} level ({exc})") from None
        finally:
            self._answered = time.monotonic()
        return answers

    def _values(self, found: Dataset, level: str) -> dict[int, str]:
        values: dict[int, str] = {}
        try:
            for element in found:
                text = _text(element.value)
                if text is not None and element.tag not in (0x00100010, 0x00100030):
                    values[int(element.tag)] = text
        except Exception as exc:  # pydicom raises many kinds on a malformed identifier
            problem = f"answered C-FIND at {level} level with a malformed identifier ({type(exc).__name__})"
            raise self._error(problem) from None
        return values

    def _association(self):
        if self._assoc is not None and self._assoc.is_established:
            return self._assoc
        source = self.source
        assoc = self._ae.associate(source.host, source.port, ae_title=source.called_ae, max_pdu=source.max_pdu)
        if not assoc.is_established:
            try:  # no association: tell an unreachable host from one that refused (rejected or aborted) it
                socket.create_connection((source.host, source.port), timeout=source.timeout).close()
            except OSError as exc:
                raise self._error(f"is unreachable ({exc.strerror or type(exc).__name__})") from None
            raise self._error(
                f"refused the association from calling AE title '{source.calling_ae}' to called AE "
                f"title '{source.called_ae}' (is the calling one declared on the archive, and is "
                "called_ae its title?)"
            )
        if not any(c.abstract_syntax == STUDY_ROOT_FIND for c in assoc.accepted_contexts):
            assoc.release()
            raise self._error("does not accept Study Root C-FIND")
        send_at_once(assoc)
        self._assoc = assoc
        return assoc

    def _error(self, detail: str) -> SourceError:
        return SourceError(f"source '{self.source.name}': the DICOM archive {self.location} {detail}")
