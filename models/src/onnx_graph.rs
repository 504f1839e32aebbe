//! A minimal writer of ONNX models (the protobuf messages `ModelProto`, `GraphProto`,
//! `NodeProto`, `TensorProto`, `AttributeProto`, `ValueInfoProto` of `onnx.proto3`),
//! enough to hand ONNX Runtime a graph built in memory from weights the project already
//! holds. Only the fields used here are written; field numbers and wire types follow
//! `onnx.proto3` (IR version 9, the default opset domain).

/// Protobuf wire types.
const VARINT: u8 = 0;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// `TensorProto.DataType` values.
const FLOAT: u64 = 1;
const INT64: u64 = 7;

/// `AttributeProto.AttributeType` values.
const ATTR_FLOAT: u64 = 1;
const ATTR_INT: u64 = 2;
const ATTR_STRING: u64 = 3;
const ATTR_INTS: u64 = 7;

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            buf.push(b);
            return;
        }
        buf.push(b | 0x80);
    }
}

fn key(buf: &mut Vec<u8>, field: u32, wire: u8) {
    varint(buf, (u64::from(field) << 3) | u64::from(wire));
}

fn int(buf: &mut Vec<u8>, field: u32, v: i64) {
    key(buf, field, VARINT);
    // negative int64 values are written as their two's complement (10 bytes)
    varint(buf, v as u64);
}

fn bytes(buf: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(buf, field, LEN);
    varint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

fn string(buf: &mut Vec<u8>, field: u32, s: &str) {
    bytes(buf, field, s.as_bytes());
}

/// A node attribute.
pub enum Attr {
    /// `int` attribute
    Int(i64),
    /// `float` attribute
    Float(f32),
    /// `ints` attribute
    Ints(Vec<i64>),
    /// `string` attribute (e.g. `Pad`'s `mode`)
    Str(&'static str),
}

/// A graph under construction: initializers (weights), nodes in topological order.
#[derive(Default)]
pub struct Graph {
    nodes: Vec<u8>,
    inits: Vec<u8>,
    count: usize,
}

/// A tensor's dimension in a graph input or output.
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A size known only at run time, by name.
    Named(&'static str),
}

impl Graph {
    /// A graph whose initializers will take about `weight_bytes` (reserved at once, so
    /// the weights are never copied by the buffer growing).
    pub fn with_capacity(weight_bytes: usize) -> Self {
        Self {
            inits: Vec::with_capacity(weight_bytes + (1 << 16)),
            ..Self::default()
        }
    }

    /// A float initializer from row-major data, written straight into the graph's
    /// buffer (weights are most of the model: no intermediate copies).
    pub fn init_f32(&mut self, name: &str, dims: &[usize], data: &[f32]) {
        let mut head = Vec::new();
        for d in dims {
            int(&mut head, 1, *d as i64);
        }
        int(&mut head, 2, FLOAT as i64);
        string(&mut head, 8, name);
        let raw_len = data.len() * 4;
        let mut raw_head = Vec::new();
        key(&mut raw_head, 9, LEN);
        varint(&mut raw_head, raw_len as u64);
        let total = head.len() + raw_head.len() + raw_len;
        key(&mut self.inits, 5, LEN);
        varint(&mut self.inits, total as u64);
        self.inits.extend_from_slice(&head);
        self.inits.extend_from_slice(&raw_head);
        for x in data {
            self.inits.extend_from_slice(&x.to_le_bytes());
        }
    }

    /// A 1-D int64 initializer (shapes, axes).
    pub fn init_i64(&mut self, name: &str, data: &[i64]) {
        let mut t = Vec::new();
        int(&mut t, 1, data.len() as i64);
        int(&mut t, 2, INT64 as i64);
        string(&mut t, 8, name);
        let mut raw = Vec::with_capacity(data.len() * 8);
        for x in data {
            raw.extend_from_slice(&x.to_le_bytes());
        }
        bytes(&mut t, 9, &raw);
        bytes(&mut self.inits, 5, &t);
    }

    /// Add a node; returns the name of its (single) output, `out`.
    pub fn node(&mut self, op: &str, inputs: &[&str], out: &str, attrs: &[(&str, Attr)]) -> String {
        let mut n = Vec::new();
        for i in inputs {
            string(&mut n, 1, i);
        }
        string(&mut n, 2, out);
        self.count += 1;
        string(&mut n, 3, &format!("n{}_{op}", self.count));
        string(&mut n, 4, op);
        for (name, a) in attrs {
            let mut m = Vec::new();
            string(&mut m, 1, name);
            match a {
                Attr::Float(f) => {
                    key(&mut m, 2, FIXED32);
                    m.extend_from_slice(&f.to_le_bytes());
                    int(&mut m, 20, ATTR_FLOAT as i64);
                }
                Attr::Int(i) => {
                    int(&mut m, 3, *i);
                    int(&mut m, 20, ATTR_INT as i64);
                }
                Attr::Ints(v) => {
                    for i in v {
                        int(&mut m, 8, *i);
                    }
                    int(&mut m, 20, ATTR_INTS as i64);
                }
                Attr::Str(s) => {
                    string(&mut m, 4, s);
                    int(&mut m, 20, ATTR_STRING as i64);
                }
            }
            bytes(&mut n, 5, &m);
        }
        bytes(&mut self.nodes, 1, &n);
        out.to_string()
    }

    /// The serialized `ModelProto` with float inputs and outputs of the given shapes.
    pub fn model(
        self,
        name: &str,
        inputs: &[(&str, &[Dim])],
        outputs: &[(&str, &[Dim])],
        opset: i64,
    ) -> Vec<u8> {
        fn value_info(name: &str, dims: &[Dim]) -> Vec<u8> {
            let mut shape = Vec::new();
            for d in dims {
                let mut dm = Vec::new();
                match d {
                    Dim::Fixed(v) => int(&mut dm, 1, *v),
                    Dim::Named(s) => string(&mut dm, 2, s),
                }
                bytes(&mut shape, 1, &dm);
            }
            let mut tensor = Vec::new();
            int(&mut tensor, 1, FLOAT as i64);
            bytes(&mut tensor, 2, &shape);
            let mut ty = Vec::new();
            bytes(&mut ty, 1, &tensor);
            let mut vi = Vec::new();
            string(&mut vi, 1, name);
            bytes(&mut vi, 2, &ty);
            vi
        }
        // the graph's fields, then the model around them, in one exactly sized buffer
        let mut head = Vec::new();
        string(&mut head, 2, name);
        let mut io = Vec::new();
        for (n, d) in inputs {
            bytes(&mut io, 11, &value_info(n, d));
        }
        for (n, d) in outputs {
            bytes(&mut io, 12, &value_info(n, d));
        }
        let g_len = self.nodes.len() + head.len() + self.inits.len() + io.len();
        let mut m = Vec::new();
        int(&mut m, 1, 9);
        string(&mut m, 2, "xiaoan");
        key(&mut m, 7, LEN);
        varint(&mut m, g_len as u64);
        let mut op = Vec::new();
        string(&mut op, 1, "");
        int(&mut op, 2, opset);
        m.reserve_exact(g_len + op.len() + 16);
        m.extend_from_slice(&self.nodes);
        m.extend_from_slice(&head);
        m.extend_from_slice(&self.inits);
        m.extend_from_slice(&io);
        bytes(&mut m, 8, &op);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_protobuf_encoding() {
        let enc = |v: u64| {
            let mut b = Vec::new();
            varint(&mut b, v);
            b
        };
        assert_eq!(enc(1), vec![1]);
        assert_eq!(enc(300), vec![0xac, 0x02]);
        assert_eq!(enc(u64::MAX).len(), 10);
        let mut b = Vec::new();
        int(&mut b, 1, -1);
        assert_eq!(b.len(), 11, "key + ten bytes for a negative int64");
    }
}
