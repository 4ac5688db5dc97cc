# expect mypy: assignment
# expect pyright: reportAttributeAccessIssue
from addressbook_capnp import Person

person = Person.new_message()
person.id = "one hundred"  # id is a UInt32
