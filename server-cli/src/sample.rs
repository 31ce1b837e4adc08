//! The built-in sample served when no media directory is given
//! ([`gstmjpegrtsp::sample`]), made once and kept in the user's cache
//! directory.

use std::path::PathBuf;

const NAME: &str = "sample.Mjpeg";

/// The directory holding the sample, made if missing.
pub fn ensure_sample() -> Result<PathBuf, String> {
    let dir = cache_dir().join("mjpegrtsp");
    let path = dir.join(NAME);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    tracing::info!("making the built-in sample {}", path.display());
    gstmjpegrtsp::sample::write_sample(&path).map_err(|e| e.to_string())?;
    Ok(dir)
}

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
}
