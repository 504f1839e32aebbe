//! Tests of the TFLite reader on a small flatbuffer built here.

use super::*;

/// A value to serialise: a scalar, or something reached through an offset.
enum V {
    U8(u8),
    U32(u32),
    Str(&'static str),
    I32s(Vec<i32>),
    F32s(Vec<f32>),
    I64s(Vec<i64>),
    Bytes(Vec<u8>),
    Table(Vec<(usize, V)>),
    Tables(Vec<Vec<(usize, V)>>),
}

/// A forward flatbuffer writer: a table's vtable precedes it and its children follow
/// it, so every `uoffset` points forward as the format requires.
struct Writer(Vec<u8>);

impl Writer {
    fn align(&mut self, n: usize) {
        while !self.0.len().is_multiple_of(n) {
            self.0.push(0);
        }
    }

    fn patch(&mut self, at: usize, target: usize) {
        let off = (target - at) as u32;
        self.0[at..at + 4].copy_from_slice(&off.to_le_bytes());
    }

    fn table(&mut self, fields: &[(usize, V)]) -> usize {
        let slots = fields.iter().map(|(id, _)| id + 1).max().unwrap_or(0);
        self.align(4);
        let vtable = self.0.len();
        let table_size = 4 + 4 * fields.len();
        self.0
            .extend_from_slice(&((4 + 2 * slots) as u16).to_le_bytes());
        self.0.extend_from_slice(&(table_size as u16).to_le_bytes());
        let mut offs = vec![0u16; slots];
        for (k, (id, _)) in fields.iter().enumerate() {
            offs[*id] = (4 + 4 * k) as u16;
        }
        for o in offs {
            self.0.extend_from_slice(&o.to_le_bytes());
        }
        self.align(4);
        let pos = self.0.len();
        self.0
            .extend_from_slice(&((pos - vtable) as i32).to_le_bytes());
        let mut later = Vec::new();
        for (_, v) in fields {
            let at = self.0.len();
            match v {
                V::U8(b) => self.0.extend_from_slice(&[*b, 0, 0, 0]),
                V::U32(x) => self.0.extend_from_slice(&x.to_le_bytes()),
                other => {
                    self.0.extend_from_slice(&[0; 4]);
                    later.push((at, other));
                }
            }
        }
        for (at, v) in later {
            let target = self.child(v);
            self.patch(at, target);
        }
        pos
    }

    fn vector(&mut self, n: usize, elem_align: usize, body: &[u8]) -> usize {
        self.align(elem_align.max(4));
        if elem_align == 8 {
            self.0.extend_from_slice(&[0; 4]);
        }
        let pos = self.0.len();
        self.0.extend_from_slice(&(n as u32).to_le_bytes());
        self.0.extend_from_slice(body);
        pos
    }

    fn child(&mut self, v: &V) -> usize {
        match v {
            V::U8(_) | V::U32(_) => unreachable!("scalars are inline"),
            V::Str(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                self.vector(s.len(), 4, &b)
            }
            V::I32s(x) => self.vector(x.len(), 4, &flat(x.iter().map(|v| v.to_le_bytes()))),
            V::F32s(x) => self.vector(x.len(), 4, &flat(x.iter().map(|v| v.to_le_bytes()))),
            V::I64s(x) => self.vector(x.len(), 8, &flat(x.iter().map(|v| v.to_le_bytes()))),
            V::Bytes(x) => self.vector(x.len(), 4, x),
            V::Table(f) => self.table(f),
            V::Tables(ts) => {
                let pos = self.vector(ts.len(), 4, &vec![0; 4 * ts.len()]);
                for (k, t) in ts.iter().enumerate() {
                    let target = self.table(t);
                    self.patch(pos + 4 + 4 * k, target);
                }
                pos
            }
        }
    }
}

fn flat<const N: usize>(it: impl Iterator<Item = [u8; N]>) -> Vec<u8> {
    it.flatten().collect()
}

/// A model with a per-channel int8 weight, a float16 bias, an activation and two nodes.
fn tiny_model() -> Vec<u8> {
    let weight: Vec<u8> = [1i8, -2, 3, -4, 5, 6].iter().map(|&q| q as u8).collect();
    let bias: Vec<u8> = flat(
        [0.5f32, -1.0]
            .iter()
            .map(|&x| half::f16::from_f32(x).to_le_bytes()),
    );
    let model = vec![
        (0, V::U32(3)),
        (
            1,
            V::Tables(vec![
                vec![(0, V::U8(9)), (2, V::U32(2))],
                vec![
                    (0, V::U8(32)),
                    (1, V::Str("FlexRandomUniform")),
                    (3, V::U32(32)),
                ],
            ]),
        ),
        (
            2,
            V::Tables(vec![vec![
                (
                    0,
                    V::Tables(vec![
                        vec![(0, V::I32s(vec![1, 3])), (1, V::U8(0)), (3, V::Str("x"))],
                        vec![
                            (0, V::I32s(vec![2, 3])),
                            (1, V::U8(9)),
                            (2, V::U32(1)),
                            (3, V::Str("w")),
                            (
                                4,
                                V::Table(vec![
                                    (2, V::F32s(vec![0.5, 0.25])),
                                    (3, V::I64s(vec![0, 1])),
                                    (6, V::U32(0)),
                                ]),
                            ),
                        ],
                        vec![
                            (0, V::I32s(vec![2])),
                            (1, V::U8(1)),
                            (2, V::U32(2)),
                            (3, V::Str("b")),
                        ],
                        vec![(0, V::I32s(vec![1, 2])), (1, V::U8(0)), (3, V::Str("y"))],
                    ]),
                ),
                (1, V::I32s(vec![0])),
                (2, V::I32s(vec![3])),
                (
                    3,
                    V::Tables(vec![
                        vec![
                            (0, V::U32(0)),
                            (1, V::I32s(vec![0, 1, 2])),
                            (2, V::I32s(vec![3])),
                            (3, V::U8(8)),
                            (4, V::Table(vec![(0, V::U8(1))])),
                        ],
                        vec![
                            (0, V::U32(1)),
                            (1, V::I32s(vec![-1])),
                            (2, V::I32s(vec![3])),
                        ],
                    ]),
                ),
                (4, V::Str("main")),
            ]]),
        ),
        (3, V::Str("test model")),
        (
            4,
            V::Tables(vec![
                vec![],
                vec![(0, V::Bytes(weight))],
                vec![(0, V::Bytes(bias))],
            ]),
        ),
    ];
    let mut w = Writer(vec![0; 8]);
    w.0[4..8].copy_from_slice(b"TFL3");
    let root = w.table(&model);
    w.patch(0, root);
    w.0
}

#[test]
fn reads_the_model_structure() {
    let bytes = tiny_model();
    let m = Model::parse(&bytes).unwrap();
    assert_eq!(m.version(), 3);
    assert_eq!(m.description(), "test model");
    assert_eq!(m.subgraph_count(), 1);
    assert_eq!(m.inputs(), &[0]);
    assert_eq!(m.outputs(), &[3]);
    let names: Vec<_> = m.tensors().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["x", "w", "b", "y"]);
    assert_eq!(m.tensors()[1].shape, vec![2, 3]);
    assert_eq!(m.tensors()[1].dtype, DType::I8);
    assert_eq!(m.tensors()[2].dtype, DType::F16);
    assert_eq!(m.find("b"), Some(2));
    let q = m.tensors()[1].quantization.clone().unwrap();
    assert_eq!(q.scales, vec![0.5, 0.25]);
    assert_eq!(q.zero_points, vec![0, 1]);
    let ops = m.operators();
    assert_eq!(ops[0].opcode, Opcode::Builtin(9));
    assert_eq!(ops[0].opcode.name(), "FULLY_CONNECTED");
    assert_eq!(ops[0].version, 2);
    assert_eq!(ops[0].inputs, vec![Some(0), Some(1), Some(2)]);
    assert_eq!(ops[0].options_type, 8);
    assert_eq!(m.option_u8(0, 0, 0).unwrap(), 1, "fused activation");
    assert_eq!(
        m.option_i32(0, 3, 7).unwrap(),
        7,
        "absent field gives the default"
    );
    assert_eq!(ops[1].opcode, Opcode::Custom("FlexRandomUniform".into()));
    assert_eq!(ops[1].inputs, vec![None]);
}

#[test]
fn dequantizes_per_channel_and_widens_half() {
    let bytes = tiny_model();
    let m = Model::parse(&bytes).unwrap();
    // row 0: scale 0.5, zero 0; row 1: scale 0.25, zero 1
    assert_eq!(
        m.tensor_f32(1).unwrap(),
        vec![0.5, -1.0, 1.5, -1.25, 1.0, 1.25]
    );
    assert_eq!(m.tensor_f32(2).unwrap(), vec![0.5, -1.0]);
    assert!(m.tensor_f32(0).is_err(), "an activation has no data");
    assert!(m.tensor_f32(9).is_err());
}

#[test]
fn per_tensor_and_inner_axis_quantization() {
    let q = Quantization {
        scales: vec![2.0],
        zero_points: vec![],
        dimension: 0,
    };
    assert_eq!(dequantize(&[1.0, -1.0], &[2], &q).unwrap(), vec![2.0, -2.0]);
    let q = Quantization {
        scales: vec![1.0, 10.0],
        zero_points: vec![0, 0],
        dimension: 1,
    };
    let got = dequantize(&[1.0, 1.0, 2.0, 2.0], &[2, 2], &q).unwrap();
    assert_eq!(got, vec![1.0, 10.0, 2.0, 20.0]);
    assert!(
        dequantize(&[1.0; 6], &[2, 3], &q).is_err(),
        "3 channels, 2 scales"
    );
}

#[test]
fn truncated_files_are_errors() {
    let bytes = tiny_model();
    for n in 0..bytes.len() {
        // a prefix may still parse if it keeps every byte the parser reads; never panic
        let _ = Model::parse(&bytes[..n]);
    }
    for n in 0..bytes.len() / 2 {
        assert!(
            Model::parse(&bytes[..n]).is_err(),
            "prefix of {n} bytes parsed"
        );
    }
}

#[test]
fn garbage_never_panics() {
    let good = tiny_model();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let mut b = good.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() % b.len() as u64) as usize;
            b[i] = next() as u8;
        }
        if let Ok(m) = Model::parse(&b) {
            for i in 0..m.tensors().len() {
                let _ = m.tensor_f32(i);
            }
            for i in 0..m.operators().len() {
                let _ = m.option_i32(i, 0, 0);
            }
        }
        let noise: Vec<u8> = (0..next() % 256).map(|_| next() as u8).collect();
        assert!(Model::parse(&noise).is_err() || noise.len() >= 16);
    }
}
