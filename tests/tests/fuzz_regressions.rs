//! Every input a fuzz target once failed on (`fuzz/regressions/<target>/`),
//! replayed through the same checks the target runs
//! (`mjpegrtsp::fuzzing`). A file here is a bug that was found and fixed:
//! it must never come back.

use std::path::{Path, PathBuf};

type Check = fn(&[u8]);

const TARGETS: [(&str, Check); 8] = [
    ("rtsp_message", mjpegrtsp::fuzzing::rtsp_message),
    ("rtsp_headers", mjpegrtsp::fuzzing::rtsp_headers),
    ("sdp", mjpegrtsp::fuzzing::sdp),
    ("interleaved", mjpegrtsp::fuzzing::interleaved),
    ("container", mjpegrtsp::fuzzing::container),
    ("rfc2435_depay", mjpegrtsp::fuzzing::rfc2435_depay),
    ("reassembly", mjpegrtsp::fuzzing::reassembly),
    ("proxy_protocol", mjpegrtsp::fuzzing::proxy_protocol),
];

fn regressions(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn every_saved_crash_input_passes_its_targets_checks() {
    let mut replayed = 0;
    let mut failing = Vec::new();
    for (target, check) in TARGETS {
        for file in regressions(target) {
            let data = std::fs::read(&file).unwrap();
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                failing.push(format!("{target}: {}", file.display()));
            }
            replayed += 1;
        }
    }
    println!("replayed {replayed} saved inputs");
    assert!(failing.is_empty(), "failing again: {failing:#?}");
    assert!(
        replayed >= 3,
        "the regression inputs are where they should be"
    );
}

/// The fuzz crate has a target for every check.
#[test]
fn the_fuzz_crate_runs_every_check() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/Cargo.toml"))
            .unwrap();
    for (target, _) in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "fuzz/Cargo.toml has no target {target}"
        );
    }
}
