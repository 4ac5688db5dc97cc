# expect mypy: arg-type
# expect pyright: reportArgumentType
from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from typing import assert_never
else:
    from typing_extensions import assert_never

from addressbook_capnp import Person


def status(person: Person.Reader) -> str:
    which = person.employment.which()
    if which == "unemployed":
        return "none"
    elif which == "employer":
        return person.employment.employer
    elif which == "school":
        return person.employment.school
    else:  # "selfEmployed" is not handled
        assert_never(which)
