//! The nodes of a `CodeGeneratorRequest` read into plain Rust values, so that the writer
//! never holds capnp readers (or their errors) while it formats Python.

use std::collections::HashMap;

use capnp::message::ReaderOptions;
use capnp_compiler::schema_capnp::{brand, code_generator_request, field, node, type_};

/// A Cap'n Proto type as far as Python stubs care.
#[derive(Clone, Debug)]
pub(crate) enum Type {
    Void,
    Bool,
    Int,
    Float,
    Text,
    Data,
    List(Box<Type>),
    Enum(u64),
    /// A struct with its bound generic arguments (None where unbound or inherited).
    Struct(u64, Vec<Option<Type>>),
    /// An interface with its bound generic arguments, as for structs.
    Interface(u64, Vec<Option<Type>>),
    AnyPointer,
    /// A generic parameter (read as an AnyPointer: the package applies no brands).
    Param,
}

#[derive(Clone, Debug)]
pub(crate) enum FieldKind {
    Slot(Type),
    Group(u64),
}

#[derive(Clone, Debug)]
pub(crate) struct Field {
    pub(crate) name: String,
    /// `Some` for members of the struct's union.
    pub(crate) discriminant: Option<u16>,
    pub(crate) kind: FieldKind,
    pub(crate) doc: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Method {
    pub(crate) name: String,
    pub(crate) params: u64,
    pub(crate) param_args: Vec<Option<Type>>,
    pub(crate) results: u64,
    pub(crate) result_args: Vec<Option<Type>>,
    pub(crate) doc: String,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    File,
    Struct {
        is_group: bool,
        discriminant_count: u16,
        fields: Vec<Field>,
    },
    Enum(Vec<String>),
    Interface {
        methods: Vec<Method>,
        superclasses: Vec<u64>,
    },
    Const(Type),
    Annotation,
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) id: u64,
    pub(crate) display_name: String,
    pub(crate) prefix_len: usize,
    pub(crate) nested: Vec<(String, u64)>,
    pub(crate) parameters: Vec<String>,
    pub(crate) kind: Kind,
    pub(crate) doc: String,
}

impl Node {
    /// The name inside its file: `Person.PhoneNumber`, `Calculator.evaluate$Params`.
    pub(crate) fn local_name(&self) -> &str {
        match self.display_name.split_once(':') {
            Some((_, name)) => name,
            None => "",
        }
    }

    /// The last component of the name: `PhoneNumber`.
    pub(crate) fn short_name(&self) -> &str {
        self.display_name.get(self.prefix_len..).unwrap_or("")
    }

    /// The file's part of the display name: `addressbook.capnp`, `capnp/schema.capnp`.
    pub(crate) fn file_name(&self) -> &str {
        match self.display_name.split_once(':') {
            Some((file, _)) => file,
            None => &self.display_name,
        }
    }
}

pub(crate) struct Request {
    pub(crate) nodes: HashMap<u64, Node>,
    pub(crate) requested: Vec<u64>,
}

pub(crate) fn read_request(bytes: &[u8]) -> capnp::Result<Request> {
    let mut slice = bytes;
    let options = ReaderOptions {
        traversal_limit_in_words: None,
        nesting_limit: 512,
    };
    let message = capnp::serialize::read_message_from_flat_slice(&mut slice, options)?;
    let req: code_generator_request::Reader<'_> = message.get_root()?;
    let mut docs: HashMap<u64, (String, Vec<String>)> = HashMap::new();
    for info in req.get_source_info()? {
        let members = info
            .get_members()?
            .iter()
            .map(|m| Ok(m.get_doc_comment()?.to_string()?))
            .collect::<capnp::Result<Vec<String>>>()?;
        docs.insert(
            info.get_id(),
            (info.get_doc_comment()?.to_string()?, members),
        );
    }
    let mut nodes = HashMap::new();
    for n in req.get_nodes()? {
        let (doc, member_docs) = docs.remove(&n.get_id()).unwrap_or_default();
        let member_doc = |i: usize| member_docs.get(i).cloned().unwrap_or_default();
        let kind = match n.which()? {
            node::File(()) => Kind::File,
            node::Struct(s) => {
                let mut fields = Vec::new();
                for (i, f) in s.get_fields()?.iter().enumerate() {
                    let d = f.get_discriminant_value();
                    fields.push(Field {
                        name: f.get_name()?.to_string()?,
                        discriminant: (d != field::NO_DISCRIMINANT).then_some(d),
                        kind: match f.which()? {
                            field::Slot(slot) => FieldKind::Slot(read_type(slot.get_type()?)?),
                            field::Group(g) => FieldKind::Group(g.get_type_id()),
                        },
                        doc: member_doc(i),
                    });
                }
                Kind::Struct {
                    is_group: s.get_is_group(),
                    discriminant_count: s.get_discriminant_count(),
                    fields,
                }
            }
            node::Enum(e) => Kind::Enum(
                e.get_enumerants()?
                    .iter()
                    .map(|e| Ok(e.get_name()?.to_string()?))
                    .collect::<capnp::Result<_>>()?,
            ),
            node::Interface(i) => {
                let mut methods = Vec::new();
                for (k, m) in i.get_methods()?.iter().enumerate() {
                    methods.push(Method {
                        name: m.get_name()?.to_string()?,
                        params: m.get_param_struct_type(),
                        param_args: brand_args(m.get_param_brand()?, m.get_param_struct_type())?,
                        results: m.get_result_struct_type(),
                        result_args: brand_args(m.get_result_brand()?, m.get_result_struct_type())?,
                        doc: member_doc(k),
                    });
                }
                let mut superclasses = Vec::new();
                for s in i.get_superclasses()? {
                    superclasses.push(s.get_id());
                }
                Kind::Interface {
                    methods,
                    superclasses,
                }
            }
            node::Const(c) => Kind::Const(read_type(c.get_type()?)?),
            node::Annotation(_) => Kind::Annotation,
        };
        let node = Node {
            id: n.get_id(),
            display_name: n.get_display_name()?.to_string()?,
            prefix_len: n.get_display_name_prefix_length() as usize,
            nested: n
                .get_nested_nodes()?
                .iter()
                .map(|nn| Ok((nn.get_name()?.to_string()?, nn.get_id())))
                .collect::<capnp::Result<_>>()?,
            parameters: n
                .get_parameters()?
                .iter()
                .map(|p| Ok(p.get_name()?.to_string()?))
                .collect::<capnp::Result<_>>()?,
            kind,
            doc,
        };
        nodes.insert(node.id, node);
    }
    let requested = req
        .get_requested_files()?
        .iter()
        .map(|f| f.get_id())
        .collect();
    Ok(Request { nodes, requested })
}

fn read_type(t: type_::Reader<'_>) -> capnp::Result<Type> {
    Ok(match t.which()? {
        type_::Void(()) => Type::Void,
        type_::Bool(()) => Type::Bool,
        type_::Int8(())
        | type_::Int16(())
        | type_::Int32(())
        | type_::Int64(())
        | type_::Uint8(())
        | type_::Uint16(())
        | type_::Uint32(())
        | type_::Uint64(()) => Type::Int,
        type_::Float32(()) | type_::Float64(()) => Type::Float,
        type_::Text(()) => Type::Text,
        type_::Data(()) => Type::Data,
        type_::List(l) => Type::List(Box::new(read_type(l.get_element_type()?)?)),
        type_::Enum(e) => Type::Enum(e.get_type_id()),
        type_::Struct(s) => Type::Struct(
            s.get_type_id(),
            brand_args(s.get_brand()?, s.get_type_id())?,
        ),
        type_::Interface(i) => Type::Interface(
            i.get_type_id(),
            brand_args(i.get_brand()?, i.get_type_id())?,
        ),
        type_::AnyPointer(a) => match a.which()? {
            type_::any_pointer::Parameter(_) => Type::Param,

            _ => Type::AnyPointer,
        },
    })
}

/// The arguments a brand binds to the parameters of node `scope` itself (outer scopes'
/// bindings are not modelled: their parameters become `Any`).
fn brand_args(b: brand::Reader<'_>, scope: u64) -> capnp::Result<Vec<Option<Type>>> {
    for s in b.get_scopes()? {
        if s.get_scope_id() != scope {
            continue;
        }
        return match s.which()? {
            brand::scope::Bind(bindings) => {
                let mut out = Vec::new();
                for binding in bindings? {
                    out.push(match binding.which()? {
                        brand::binding::Unbound(()) => None,
                        brand::binding::Type(t) => Some(read_type(t?)?),
                    });
                }
                Ok(out)
            }
            brand::scope::Inherit(()) => Ok(Vec::new()),
        };
    }
    Ok(Vec::new())
}
