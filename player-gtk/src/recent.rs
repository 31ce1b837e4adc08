//! Recently opened URLs and files: one per line, newest first, in
//! `$XDG_CONFIG_HOME/mjpegrtsp/recent`.

use std::io;
use std::path::{Path, PathBuf};

/// How many entries are kept.
pub const MAX_RECENT: usize = 10;

/// The list and the file it lives in.
#[derive(Debug, Clone)]
pub struct Recent {
    path: PathBuf,
    items: Vec<String>,
}

impl Recent {
    /// The user's list (empty when the file is missing or unreadable).
    pub fn load_default() -> Recent {
        Recent::load(glib::user_config_dir().join("mjpegrtsp").join("recent"))
    }

    /// The list stored at `path` (empty when the file is missing or unreadable).
    pub fn load(path: impl Into<PathBuf>) -> Recent {
        let path = path.into();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut recent = Recent {
            path,
            items: Vec::new(),
        };
        for line in text.lines().rev() {
            recent.remember(line);
        }
        recent
    }

    pub fn items(&self) -> &[String] {
        &self.items
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Puts `item` first (once), keeping at most [`MAX_RECENT`].
    pub fn remember(&mut self, item: &str) {
        let item = item.trim();
        if item.is_empty() || item.contains('\n') {
            return;
        }
        self.items.retain(|i| i != item);
        self.items.insert(0, item.to_owned());
        self.items.truncate(MAX_RECENT);
    }

    /// Writes the list, creating its directory.
    pub fn save(&self) -> io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut text = self.items.join("\n");
        text.push('\n');
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_without_duplicates_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("recent");
        let mut r = Recent::load(&path);
        assert!(r.items().is_empty());
        for i in 0..15 {
            r.remember(&format!("rtsp://h/{i}.Mjpeg"));
        }
        r.remember("rtsp://h/12.Mjpeg");
        r.remember("  ");
        assert_eq!(r.items().len(), MAX_RECENT);
        assert_eq!(r.items()[0], "rtsp://h/12.Mjpeg");
        assert_eq!(r.items()[1], "rtsp://h/14.Mjpeg");
        assert_eq!(
            r.items()
                .iter()
                .filter(|i| i.ends_with("/12.Mjpeg"))
                .count(),
            1
        );
        r.save().unwrap();
        let again = Recent::load(&path);
        assert_eq!(again.items(), r.items());
    }
}
