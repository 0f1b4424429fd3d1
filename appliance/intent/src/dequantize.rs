//! Weight-only int8 dequantization at load time.
//!
//! The bundled model stores weights as `Cast(W_q: int8)` followed by `Mul(·, scale)`. tract does
//! not constant-fold that for large initializers and would dequantize the 30522×384 word
//! embedding table on every run (tens of ms). Rewriting each pair into one f32 initializer once,
//! before the model is built, makes a run cost what the matrix products cost.

use std::collections::HashMap;

use tract_onnx::pb::{ModelProto, TensorProto};

const ONNX_FLOAT: i32 = 1;
const ONNX_INT8: i32 = 3;

fn f32_values(t: &TensorProto) -> Option<Vec<f32>> {
    if !t.float_data.is_empty() {
        return Some(t.float_data.clone());
    }
    if !t.raw_data.len().is_multiple_of(4) {
        return None;
    }
    Some(
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

fn i8_values(t: &TensorProto) -> Option<Vec<i8>> {
    if !t.raw_data.is_empty() {
        return Some(t.raw_data.iter().map(|b| *b as i8).collect());
    }
    if !t.int32_data.is_empty() {
        return Some(t.int32_data.iter().map(|v| *v as i8).collect());
    }
    None
}

/// `q * scale` with numpy broadcasting of `scale` (its dimensions aligned to the right).
fn broadcast_mul(q: &[i8], q_dims: &[usize], scale: &[f32], s_dims: &[usize]) -> Option<Vec<f32>> {
    if s_dims.len() > q_dims.len() {
        return None;
    }
    let offset = q_dims.len() - s_dims.len();
    let mut s_strides = vec![0usize; q_dims.len()];
    let mut stride = 1usize;
    for i in (0..s_dims.len()).rev() {
        let qd = q_dims[i + offset];
        match s_dims[i] {
            1 => s_strides[i + offset] = 0,
            d if d == qd => s_strides[i + offset] = stride,
            _ => return None,
        }
        stride *= s_dims[i];
    }
    let mut out = Vec::with_capacity(q.len());
    let mut index = vec![0usize; q_dims.len()];
    for &v in q {
        let s_index: usize = index.iter().zip(&s_strides).map(|(i, s)| i * s).sum();
        out.push(v as f32 * *scale.get(s_index)?);
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < q_dims[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Some(out)
}

/// Rewrites every `Mul(Cast(int8 initializer), f32 initializer)` into an f32 initializer.
/// Returns how many weights were dequantized.
pub fn dequantize_weights(model: &mut ModelProto) -> usize {
    let Some(graph) = model.graph.as_mut() else {
        return 0;
    };
    let inits: HashMap<String, usize> = graph
        .initializer
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    let mut consumers: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, node) in graph.node.iter().enumerate() {
        for input in &node.input {
            consumers.entry(input.clone()).or_default().push(i);
        }
    }
    let mut remove_nodes = Vec::new();
    let mut new_inits = Vec::new();
    let mut unused_inits = Vec::new();
    for (ci, cast) in graph.node.iter().enumerate() {
        if cast.op_type != "Cast" || cast.input.len() != 1 || cast.output.len() != 1 {
            continue;
        }
        let Some(&qi) = inits.get(&cast.input[0]) else {
            continue;
        };
        let q = &graph.initializer[qi];
        if q.data_type != ONNX_INT8 {
            continue;
        }
        let users = consumers.get(&cast.output[0]).cloned().unwrap_or_default();
        let [mi] = users.as_slice() else {
            continue;
        };
        let mul = &graph.node[*mi];
        if mul.op_type != "Mul" || mul.input.len() != 2 || mul.output.len() != 1 {
            continue;
        }
        let other = if mul.input[0] == cast.output[0] {
            &mul.input[1]
        } else {
            &mul.input[0]
        };
        let Some(&si) = inits.get(other) else {
            continue;
        };
        let scale = &graph.initializer[si];
        if scale.data_type != ONNX_FLOAT {
            continue;
        }
        let q_dims: Vec<usize> = q.dims.iter().map(|d| *d as usize).collect();
        let s_dims: Vec<usize> = scale.dims.iter().map(|d| *d as usize).collect();
        let (Some(qv), Some(sv)) = (i8_values(q), f32_values(scale)) else {
            continue;
        };
        let Some(values) = broadcast_mul(&qv, &q_dims, &sv, &s_dims) else {
            continue;
        };
        let mut raw = Vec::with_capacity(values.len() * 4);
        for v in values {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        new_inits.push(TensorProto {
            name: mul.output[0].clone(),
            dims: q.dims.clone(),
            data_type: ONNX_FLOAT,
            raw_data: raw,
            ..Default::default()
        });
        remove_nodes.push(ci);
        remove_nodes.push(*mi);
        unused_inits.push(qi);
    }
    let done = new_inits.len();
    remove_nodes.sort_unstable();
    remove_nodes.dedup();
    for i in remove_nodes.into_iter().rev() {
        graph.node.remove(i);
    }
    unused_inits.sort_unstable();
    unused_inits.dedup();
    for i in unused_inits.into_iter().rev() {
        graph.initializer.remove(i);
    }
    graph.initializer.extend(new_inits);
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_scalars_rows_and_columns() {
        let q = [1i8, 2, 3, 4, 5, 6];
        assert_eq!(
            broadcast_mul(&q, &[2, 3], &[0.5], &[]).unwrap(),
            vec![0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
        );
        assert_eq!(
            broadcast_mul(&q, &[2, 3], &[1.0, 10.0], &[2, 1]).unwrap(),
            vec![1.0, 2.0, 3.0, 40.0, 50.0, 60.0]
        );
        assert_eq!(
            broadcast_mul(&q, &[2, 3], &[1.0, 0.0, -1.0], &[3]).unwrap(),
            vec![1.0, 0.0, -3.0, 4.0, 0.0, -6.0]
        );
        assert!(broadcast_mul(&q, &[2, 3], &[1.0, 2.0], &[2]).is_none());
    }
}
