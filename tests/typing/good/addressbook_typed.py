"""Builds, serializes and reads an address book with every kind of field typed."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from typing import assert_never
else:
    from typing_extensions import assert_never

import capnp

capnp.add_import_hook()  # `import capnp` installs it already; explicit for readers

import addressbook_capnp
from addressbook_capnp import AddressBook, Person


def build() -> bytes:
    book = AddressBook.new_message()
    people = book.init("people", 2)
    alice = people[0]
    alice.id = 123
    alice.name = "Alice"
    alice.email = "alice@example.com"
    phones = alice.init("phones", 1)
    phones[0].number = "555-1212"
    phones[0].type = "mobile"
    alice.employment.school = "MIT"

    bob: Person.Builder = people[1]
    bob.id = 456
    bob.name = "Bob"
    bob.phones = [{"number": "555-4567", "type": "home"}]
    bob.employment.unemployed = None
    return book.to_bytes()


def describe(person: Person.Reader) -> str:
    employment = person.employment
    which = employment.which()
    if which == "unemployed":
        status = "unemployed"
    elif which == "employer":
        status = "works at " + employment.employer
    elif which == "school":
        status = "studies at " + employment.school
    elif which == "selfEmployed":
        status = "self-employed"
    else:
        assert_never(which)
    numbers = ", ".join("%s (%s)" % (p.number, p.type) for p in person.phones)
    return "%s <%s> #%d: %s; %s" % (person.name, person.email, person.id, status, numbers)


def read(data: bytes) -> list[str]:
    with AddressBook.from_bytes(data) as book:
        return [describe(p) for p in book.people]


def round_trip() -> Person.Builder:
    person = Person.new_message(id=1, name="Carol", phones=[{"number": "1"}])
    reader: Person.Reader = person.as_reader()
    copy = reader.as_builder()
    copy.name = reader.name.upper()
    kind: int = addressbook_capnp.Person.PhoneNumber.Type.work
    copy.phones[0].type = kind
    return copy


if __name__ == "__main__":
    for line in read(build()):
        print(line)
    print(round_trip().name)
