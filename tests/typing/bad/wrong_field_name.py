# expect mypy: attr-defined
# expect pyright: reportAttributeAccessIssue
from addressbook_capnp import Person

person = Person.new_message()
person.nmae = "Alice"  # the field is `name`
