//! The Confluent wire format of a Kafka record value: a zero magic byte, the
//! schema id as a big-endian `u32`, then the Avro body.

/// Bytes before the body: the magic byte and the schema id.
pub const HEADER_LEN: usize = 5;

/// Why bytes are not a Confluent-framed value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error(
        "value is {len} bytes long, shorter than the 5-byte Confluent header (magic byte + schema id); \
         it was not written by a Confluent Avro serializer"
    )]
    TooShort { len: usize },
    #[error(
        "value starts with byte 0x{found:02x}, not the Confluent magic byte 0x00; \
         it is not in the Confluent wire format (plain JSON or Avro without a registry?)"
    )]
    BadMagic { found: u8 },
}

/// Frames an Avro body with its schema id.
pub fn frame(schema_id: u32, avro_body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + avro_body.len());
    out.extend_from_slice(&header(schema_id));
    out.extend_from_slice(avro_body);
    out
}

/// The header alone, for a writer that appends the body itself.
pub fn header(schema_id: u32) -> [u8; HEADER_LEN] {
    let id = schema_id.to_be_bytes();
    [0, id[0], id[1], id[2], id[3]]
}

/// Splits a framed value into its schema id and Avro body.
pub fn unframe(bytes: &[u8]) -> Result<(u32, &[u8]), WireError> {
    if bytes.len() < HEADER_LEN {
        return Err(WireError::TooShort { len: bytes.len() });
    }
    if bytes[0] != 0 {
        return Err(WireError::BadMagic { found: bytes[0] });
    }
    let id = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    Ok((id, &bytes[HEADER_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_layout_is_magic_then_big_endian_id() {
        assert_eq!(frame(0x0102_0304, b"xy"), vec![0, 1, 2, 3, 4, b'x', b'y']);
    }

    #[test]
    fn round_trip() {
        let framed = frame(42, b"body");
        assert_eq!(unframe(&framed), Ok((42, &b"body"[..])));
        assert_eq!(unframe(&frame(7, b"")), Ok((7, &b""[..])));
    }

    #[test]
    fn too_short_says_how_long() {
        let err = unframe(&[0, 0, 1]).unwrap_err();
        assert_eq!(err, WireError::TooShort { len: 3 });
        assert!(err.to_string().contains("3 bytes"), "{err}");
    }

    #[test]
    fn bad_magic_names_the_byte() {
        let err = unframe(b"{\"a\":1}").unwrap_err();
        assert_eq!(err, WireError::BadMagic { found: b'{' });
        assert!(err.to_string().contains("0x7b"), "{err}");
    }
}
