"""IB's ``timeZoneId`` to an IANA zone.

IB sends the zone of a contract's trading schedule "as-is" from its schedule data: canonical
IANA names (``America/New_York``, seen for futures since 2026), old IANA links that slim OS
images no longer ship (``US/Eastern``, ``GB-Eire``, ``Hongkong``, ``Japan``, ``MET`` ...),
three-letter codes in IB's own sense (``EST``, ``CST``, ``JST``; ``IST`` is India), and in old
documentation a code with a description, ``EST (Eastern Standard Time)``. IB's hours are the
exchange's wall-clock hours, so an abbreviation here means the exchange's place with its
daylight saving (``EST`` is New York, not tzdata's fixed UTC-5).

Every known legacy id maps to a canonical IANA name (so nothing depends on ``tzdata-legacy``);
any other id must be an IANA name with a ``/`` that zoneinfo knows. Anything else raises
:class:`UnknownTimeZone`: never guess a zone, a wrong one shifts every session by hours.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import UnknownTimeZone
from .timefields import IANA_ZONE_NAME

__all__ = ["IB_ZONE_ALIASES", "ib_zone"]

_NEW_YORK, _CHICAGO, _DENVER, _LOS_ANGELES = "America/New_York", "America/Chicago", "America/Denver", \
    "America/Los_Angeles"
# tzdata 2024b made MET and CET links to Europe/Brussels, EET to Europe/Athens, WET to Europe/Lisbon.
IB_ZONE_ALIASES: dict[str, str] = {
    "EST": _NEW_YORK, "EDT": _NEW_YORK, "EST5EDT": _NEW_YORK, "US/Eastern": _NEW_YORK,
    "CST": _CHICAGO, "CDT": _CHICAGO, "CST6CDT": _CHICAGO, "US/Central": _CHICAGO,
    "MST7MDT": _DENVER, "US/Mountain": _DENVER,
    "PST": _LOS_ANGELES, "PDT": _LOS_ANGELES, "PST8PDT": _LOS_ANGELES, "US/Pacific": _LOS_ANGELES,
    "Canada/Eastern": "America/Toronto", "Mexico/General": "America/Mexico_City",
    "Brazil/East": "America/Sao_Paulo",
    "GB-Eire": "Europe/London", "GB": "Europe/London",
    "MET": "Europe/Brussels", "CET": "Europe/Brussels", "MEST": "Europe/Brussels", "CEST": "Europe/Brussels",
    "EET": "Europe/Athens", "WET": "Europe/Lisbon", "Turkey": "Europe/Istanbul", "W-SU": "Europe/Moscow",
    "Israel": "Asia/Jerusalem",
    "IST": "Asia/Kolkata", "Asia/Calcutta": "Asia/Kolkata",
    "JST": "Asia/Tokyo", "Japan": "Asia/Tokyo",
    "HKT": "Asia/Hong_Kong", "Hongkong": "Asia/Hong_Kong",
    "SGT": "Asia/Singapore", "Singapore": "Asia/Singapore",
    "KST": "Asia/Seoul", "ROK": "Asia/Seoul",
    "PRC": "Asia/Shanghai", "CTT": "Asia/Shanghai", "ROC": "Asia/Taipei",
    "Australia/NSW": "Australia/Sydney", "AET": "Australia/Sydney", "AEST": "Australia/Sydney",
    "AEDT": "Australia/Sydney", "Australia/ACT": "Australia/Sydney",
    "NZ": "Pacific/Auckland",
    "GMT": "UTC", "UTC": "UTC", "UCT": "UTC", "Etc/UTC": "UTC", "Etc/GMT": "UTC", "Universal": "UTC",
    "Zulu": "UTC",
}


def ib_zone(zone_id: str) -> ZoneInfo:
    """The IANA zone for IB's ``timeZoneId``; :class:`UnknownTimeZone` if there is none."""
    key = zone_id.strip()
    if not key:
        raise UnknownTimeZone(zone_id, "IB sent no time zone id with these hours")
    key = key.split(" (", 1)[0].strip()  # "EST (Eastern Standard Time)"
    name = IB_ZONE_ALIASES.get(key) or IB_ZONE_ALIASES.get(key.upper())
    if name is None:
        if not IANA_ZONE_NAME.fullmatch(key):
            raise UnknownTimeZone(zone_id, "not an IANA name and not a known IB alias")
        name = key
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZone(zone_id, "zoneinfo does not know it") from None
