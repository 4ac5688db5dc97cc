"""The classic address book: build two people, write them to a file, read them back, print them."""

import os
import tempfile

import capnp

HERE = os.path.dirname(os.path.abspath(__file__))
addressbook = capnp.load(os.path.join(HERE, "addressbook.capnp"))


def write_address_book(file):
    addresses = addressbook.AddressBook.new_message()
    people = addresses.init("people", 2)

    alice = people[0]
    alice.id = 123
    alice.name = "Alice"
    alice.email = "alice@example.com"
    alice_phones = alice.init("phones", 1)
    alice_phones[0].number = "555-1212"
    alice_phones[0].type = "mobile"
    alice.employment.school = "MIT"

    bob = people[1]
    bob.id = 456
    bob.name = "Bob"
    bob.email = "bob@example.com"
    bob_phones = bob.init("phones", 2)
    bob_phones[0].number = "555-4567"
    bob_phones[0].type = "home"
    bob_phones[1].number = "555-7654"
    bob_phones[1].type = "work"
    bob.employment.unemployed = None

    addresses.write(file)


def print_address_book(file):
    addresses = addressbook.AddressBook.read(file)
    for person in addresses.people:
        print(person.name, ":", person.email)
        for phone in person.phones:
            print(phone.type, ":", phone.number)

        which = person.employment.which()
        print(which)
        if which == "unemployed":
            print("unemployed")
        elif which == "employer":
            print("employer:", person.employment.employer)
        elif which == "school":
            print("student at:", person.employment.school)
        elif which == "selfEmployed":
            print("self employed")
        print()


def main():
    with tempfile.TemporaryFile() as f:
        write_address_book(f)
        f.seek(0)
        print_address_book(f)


if __name__ == "__main__":
    main()
