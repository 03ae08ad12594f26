use super::*;
use tokio::io::AsyncReadExt;

const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn parse_accepts_sha256_and_rejects_the_rest() {
    let d = Digest::parse(EMPTY).unwrap();
    assert_eq!(d.to_string(), EMPTY);
    assert_eq!(d, Digest::of(b""));
    assert_eq!(d.short(), "e3b0c44298fc");
    let cases = [
        ("e3b0c442", "not of the form"),
        ("sha512:abcd", "unsupported algorithm"),
        (
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "64 lowercase hex",
        ),
        ("sha256:e3b0", "64 lowercase hex"),
        (":", "not of the form"),
    ];
    for (input, want) in cases {
        let err = Digest::parse(input).unwrap_err().to_string();
        assert!(err.contains(want), "{input}: {err}");
    }
}

#[test]
fn serde_round_trip_validates() {
    let d: Digest = serde_json::from_str(&format!("\"{EMPTY}\"")).unwrap();
    assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{EMPTY}\""));
    assert!(serde_json::from_str::<Digest>("\"md5:00\"").is_err());
}

/// A reader that hands out at most `step` bytes per read, to exercise partial reads.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.step.min(self.data.len()).min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Poll::Ready(Ok(()))
    }
}

async fn read_all(
    data: &[u8],
    expected: &Digest,
    size: u64,
) -> (Result<Vec<u8>, io::Error>, MismatchSlot) {
    let mut r = VerifyingReader::new(Trickle { data, step: 7 }, expected.clone(), size);
    let slot = r.mismatch_slot();
    let mut out = Vec::new();
    let res = r.read_to_end(&mut out).await.map(|_| out);
    (res, slot)
}

#[tokio::test]
async fn verifying_reader_passes_matching_bytes() {
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let (res, slot) = read_all(&data, &Digest::of(&data), data.len() as u64).await;
    assert_eq!(res.unwrap(), data);
    assert!(slot.get().is_none());
    let (res, _) = read_all(b"", &Digest::of(b""), 0).await;
    assert!(res.unwrap().is_empty());
}

#[tokio::test]
async fn verifying_reader_refuses_before_the_last_bytes() {
    let data = b"hello, registry".to_vec();
    let good = Digest::of(&data);
    let mut bad = data.clone();
    bad[3] ^= 1;
    let (res, slot) = read_all(&bad, &good, bad.len() as u64).await;
    let err = res.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    let msg = err.to_string();
    assert!(
        msg.contains(&good.to_string()) && msg.contains(&Digest::of(&bad).to_string()),
        "{msg}"
    );
    assert!(matches!(slot.get(), Some(Mismatch::Digest { .. })));

    // A reader that stops at exactly `size` bytes never sees the corrupt tail.
    let mut r = VerifyingReader::new(&bad[..], good.clone(), bad.len() as u64);
    let mut buf = vec![0u8; bad.len()];
    assert!(r.read_exact(&mut buf).await.is_err());
}

#[tokio::test]
async fn verifying_reader_refuses_short_and_long_sources() {
    let data = b"0123456789".to_vec();
    let d = Digest::of(&data);
    let (res, slot) = read_all(&data[..6], &d, 10).await;
    assert!(
        res.unwrap_err()
            .to_string()
            .contains("has 6 bytes, the descriptor says 10")
    );
    assert!(matches!(slot.get(), Some(Mismatch::Size { actual: 6, .. })));
    let mut long = data.clone();
    long.push(b'x');
    let (res, _) = read_all(&long, &d, 10).await;
    assert!(
        res.unwrap_err()
            .to_string()
            .contains("longer than the 10 bytes")
    );
}

#[tokio::test]
async fn hash_reader_counts_and_hashes() {
    let data = vec![42u8; 300_000];
    let (d, n) = hash_reader(&data[..]).await.unwrap();
    assert_eq!((d, n), (Digest::of(&data), 300_000));
}

struct Failing;

impl AsyncRead for Failing {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "no access",
        )))
    }
}

#[tokio::test]
async fn verifying_reader_records_the_source_read_error() {
    let mut r = VerifyingReader::new(Failing, Digest::of(b""), 1);
    let slot = r.mismatch_slot();
    let mut out = Vec::new();
    assert!(r.read_to_end(&mut out).await.is_err());
    assert!(slot.get().is_none());
    let e = slot.read_error().unwrap();
    assert_eq!(
        (e.kind(), e.to_string()),
        (io::ErrorKind::PermissionDenied, "no access".to_owned())
    );
}
