//! Writes a host directory as a deterministic layer blob and prints its digests, sizes and the
//! time taken (a benchmark and a manual check of the layer writer).
//!
//! ```text
//! cargo run --release -p plinth-oci --example write_layer -- DIR OUT [gzip|zstd|none] [SOURCE_DATE_EPOCH]
//! ```

use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

use plinth_oci::layer::{Compression, LayerOptions, entries_from_dir, write_layer};

const USAGE: &str = "usage: write_layer DIR OUT [gzip|zstd|none] [SOURCE_DATE_EPOCH]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, out) = match args.as_slice() {
        [dir, out, ..] => (PathBuf::from(dir), PathBuf::from(out)),
        _ => return Err(USAGE.into()),
    };
    let compression = match args.get(2).map(String::as_str) {
        None | Some("gzip") => Compression::Gzip,
        Some("zstd") => Compression::Zstd,
        Some("none") => Compression::None,
        Some(other) => return Err(format!("unknown compression {other:?}; {USAGE}").into()),
    };
    let source_date_epoch = match args.get(3) {
        Some(s) => s.parse()?,
        None => 0,
    };

    let start = Instant::now();
    let entries = entries_from_dir(&dir, "")?;
    let walked = start.elapsed();
    let count = entries.len();
    let sink = BufWriter::with_capacity(1 << 20, fs_err::File::create(&out)?);
    let (layer, _) = write_layer(
        entries,
        &LayerOptions {
            compression,
            source_date_epoch,
        },
        sink,
    )?;
    let total = start.elapsed();

    println!("entries            {count}");
    println!("media type         {}", layer.media_type);
    println!("diff_id            {}", layer.diff_id);
    println!("digest             {}", layer.digest);
    println!("size               {}", layer.size);
    println!("uncompressed size  {}", layer.uncompressed_size);
    println!("walk               {:.3} s", walked.as_secs_f64());
    println!("total              {:.3} s", total.as_secs_f64());
    println!(
        "throughput         {:.1} MB/s (uncompressed)",
        layer.uncompressed_size as f64 / total.as_secs_f64() / 1e6
    );
    Ok(())
}
