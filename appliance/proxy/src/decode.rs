//! Request bodies sent with a `Content-Encoding`, decoded (and bounded) so that mediation judges
//! the bytes the upstream will act on, not a compressed wrapper around them.

use std::io::Read;

/// Why a request body could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("content coding {0:?} is not one aarmor decodes (gzip, deflate, br, zstd)")]
    Unsupported(String),
    #[error("the {coding} body does not decode: {reason}")]
    Corrupt { coding: String, reason: String },
    #[error("the decoded body exceeds {limit} bytes")]
    TooLarge { limit: usize },
}

/// The content codings of a `Content-Encoding` value, in the order they were applied; `identity`
/// and empty entries are dropped. Empty when there is nothing to decode.
pub fn codings(header: &str) -> Vec<String> {
    header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect()
}

/// At most this many codings are undone (a longer chain is refused as unsupported).
const MAX_CODINGS: usize = 3;

/// Undoes `codings` (applied in that order) on `body`; no stage may grow past `limit` bytes.
pub fn decode(codings: &[String], body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    if codings.len() > MAX_CODINGS {
        return Err(DecodeError::Unsupported(codings.join(", ")));
    }
    let mut data = body.to_vec();
    for coding in codings.iter().rev() {
        data = decode_one(coding, &data, limit)?;
    }
    Ok(data)
}

fn decode_one(coding: &str, body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    match coding {
        "gzip" | "x-gzip" => bounded(coding, flate2::read::MultiGzDecoder::new(body), limit),
        // RFC 9110 "deflate" is zlib-wrapped; some clients send a raw deflate stream instead.
        "deflate" => bounded(coding, flate2::read::ZlibDecoder::new(body), limit)
            .or_else(|_| bounded(coding, flate2::read::DeflateDecoder::new(body), limit)),
        "br" => bounded(coding, brotli::Decompressor::new(body, 8192), limit),
        "zstd" => {
            let decoder = zstd::stream::read::Decoder::new(body).map_err(|e| corrupt(coding, e))?;
            bounded(coding, decoder, limit)
        }
        other => Err(DecodeError::Unsupported(other.to_string())),
    }
}

fn corrupt(coding: &str, e: std::io::Error) -> DecodeError {
    DecodeError::Corrupt {
        coding: coding.to_string(),
        reason: e.to_string(),
    }
}

/// Reads `reader` to its end, refusing to hold more than `limit` bytes (a small compressed body
/// can expand enormously).
fn bounded(coding: &str, reader: impl Read, limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(coding, e))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = br#"{"note": "creds AKIAIOSFODNN7EXAMPLE ok"}"#;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn codings_are_read_in_order_without_identity() {
        assert_eq!(codings("gzip"), ["gzip"]);
        assert_eq!(codings(" GZIP , br "), ["gzip", "br"]);
        assert!(codings("identity").is_empty());
        assert!(codings("").is_empty());
    }

    #[test]
    fn every_supported_coding_decodes() {
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(TEXT).unwrap();
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(TEXT).unwrap();
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(TEXT).unwrap();
        }
        let zst = zstd::stream::encode_all(TEXT, 3).unwrap();
        for (coding, body) in [
            ("gzip", gzip(TEXT)),
            ("x-gzip", gzip(TEXT)),
            ("deflate", zlib.finish().unwrap()),
            ("deflate", raw.finish().unwrap()),
            ("br", br),
            ("zstd", zst),
        ] {
            assert_eq!(
                decode(&codings(coding), &body, 1 << 20).unwrap(),
                TEXT,
                "{coding}"
            );
        }
    }

    #[test]
    fn stacked_codings_are_undone_last_first() {
        let body = zstd::stream::encode_all(gzip(TEXT).as_slice(), 3).unwrap();
        assert_eq!(
            decode(&codings("gzip, zstd"), &body, 1 << 20).unwrap(),
            TEXT
        );
    }

    #[test]
    fn a_bomb_is_refused_at_the_limit() {
        let bomb = gzip(&vec![b'a'; 10 << 20]);
        assert!(bomb.len() < 64 << 10);
        assert_eq!(
            decode(&codings("gzip"), &bomb, 1 << 20),
            Err(DecodeError::TooLarge { limit: 1 << 20 })
        );
    }

    #[test]
    fn unknown_and_corrupt_bodies_are_errors() {
        assert_eq!(
            decode(&codings("compress"), TEXT, 1 << 20),
            Err(DecodeError::Unsupported("compress".into()))
        );
        assert!(matches!(
            decode(&codings("gzip"), TEXT, 1 << 20),
            Err(DecodeError::Corrupt { .. })
        ));
        assert!(matches!(
            decode(&codings("gzip, gzip, gzip, gzip"), TEXT, 1 << 20),
            Err(DecodeError::Unsupported(_))
        ));
    }
}
