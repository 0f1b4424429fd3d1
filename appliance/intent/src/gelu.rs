//! Exact GELU in the form tract fuses.
//!
//! The bundled model computes GELU as `0.5 · x · (1 + erf(x / √2))` with a `Div` by the constant
//! √2. tract recognizes the pattern — and runs one vectorized GELU kernel instead of five
//! element-wise operations — only when the scaling is a multiplication by exactly `1/√2`, which
//! the reciprocal of the rounded √2 is not. Rewriting the division before the model is built
//! changes nothing numerically beyond one rounding and makes every GELU a single fused op.
//! The model also applies the `0.5` to `(1 + erf(·))` rather than to `x`; the products are
//! reassociated to `((1 + erf(x/√2)) · x) · 0.5`, the other form tract fuses.

use std::collections::HashMap;

use tract_onnx::pb::{ModelProto, TensorProto};

const ONNX_FLOAT: i32 = 1;

fn scalar_f32(t: &TensorProto) -> Option<f32> {
    if t.data_type != ONNX_FLOAT || t.dims.iter().product::<i64>() != 1 {
        return None;
    }
    match (t.float_data.as_slice(), t.raw_data.as_slice()) {
        ([v], _) => Some(*v),
        ([], [a, b, c, d]) => Some(f32::from_le_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// Rewrites every `Div(x, √2)` that feeds an `Erf` into `Mul(x, 1/√2)`; returns how many.
pub fn rewrite_gelu_divisions(model: &mut ModelProto) -> usize {
    let Some(graph) = model.graph.as_mut() else {
        return 0;
    };
    let scalars: HashMap<String, f32> = graph
        .initializer
        .iter()
        .filter_map(|t| scalar_f32(t).map(|v| (t.name.clone(), v)))
        .collect();
    let erf_inputs: Vec<String> = graph
        .node
        .iter()
        .filter(|n| n.op_type == "Erf")
        .filter_map(|n| n.input.first().cloned())
        .collect();
    let inv_sqrt2 = "aarmor_inv_sqrt2".to_string();
    let mut rewritten = 0;
    for node in graph.node.iter_mut() {
        let feeds_erf = node.output.iter().any(|o| erf_inputs.contains(o));
        if node.op_type != "Div" || node.input.len() != 2 || !feeds_erf {
            continue;
        }
        let is_sqrt2 = scalars
            .get(&node.input[1])
            .is_some_and(|v| (v - std::f32::consts::SQRT_2).abs() < 1e-6);
        if !is_sqrt2 {
            continue;
        }
        node.op_type = "Mul".into();
        node.input[1] = inv_sqrt2.clone();
        rewritten += 1;
    }
    // x · (0.5 · (1 + erf)) ⇒ ((1 + erf) · x) · 0.5
    let producer: HashMap<String, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.clone(), i)))
        .collect();
    let mut consumers: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, n) in graph.node.iter().enumerate() {
        for input in &n.input {
            consumers.entry(input.clone()).or_default().push(i);
        }
    }
    let sole = |name: &str| match consumers.get(name).map(Vec::as_slice) {
        Some([one]) => Some(*one),
        _ => None,
    };
    let mut edits = Vec::new();
    for (ei, erf) in graph.node.iter().enumerate() {
        if erf.op_type != "Erf" {
            continue;
        }
        let Some(&si) = erf.input.first().and_then(|i| producer.get(i)) else {
            continue;
        };
        let Some(x) = graph.node[si].input.first().cloned() else {
            continue;
        };
        let Some(ai) = sole(&erf.output[0]) else {
            continue;
        };
        let add = &graph.node[ai];
        let Some(hi) = add.output.first().and_then(|o| sole(o)) else {
            continue;
        };
        let half = &graph.node[hi];
        let Some(fi) = half.output.first().and_then(|o| sole(o)) else {
            continue;
        };
        let last = &graph.node[fi];
        let half_const = half
            .input
            .iter()
            .find(|i| scalars.get(*i).is_some_and(|v| *v == 0.5))
            .cloned();
        let (Some(half_const), true, true, true) = (
            half_const,
            add.op_type == "Add" && half.op_type == "Mul" && last.op_type == "Mul",
            half.input.contains(&add.output[0]) && half.input.len() == 2,
            last.input.contains(&x) && last.input.contains(&half.output[0]),
        ) else {
            continue;
        };
        let _ = ei;
        edits.push((
            hi,
            fi,
            add.output[0].clone(),
            x,
            half.output[0].clone(),
            half_const,
        ));
    }
    for (hi, fi, add_out, x, half_out, half_const) in edits {
        graph.node[hi].input = vec![add_out, x];
        graph.node[fi].input = vec![half_out, half_const];
    }
    if rewritten > 0 {
        graph.initializer.push(TensorProto {
            name: inv_sqrt2,
            dims: vec![],
            data_type: ONNX_FLOAT,
            raw_data: 2f32.sqrt().recip().to_le_bytes().to_vec(),
            ..Default::default()
        });
    }
    rewritten
}
