//! The HTTP side in a real browser: Debian's headless Chromium (over
//! WebDriver) plays `/watch/<mount>` and the picture moves (two screenshots a
//! second apart differ where the video is, and nowhere else in the header),
//! its status line says it plays; the index page shows the mount.

use mjpegrtsp::server::{HttpConfig, ServerConfig};
use mjpegrtsp_tests::browser::{Browser, Screenshot};
use mjpegrtsp_tests::rtsp_text::wait_within;
use mjpegrtsp_tests::*;
use std::time::Duration;

fn save(shot: &Screenshot, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), &shot.png).unwrap();
}

#[test]
fn chromium_plays_the_watch_page_and_shows_the_index() {
    let dir = movie_dir(96, 320, 240, 80, "ball");
    let mut config = ServerConfig::new(dir.path());
    config.http = Some(HttpConfig::on(0));
    config.looping = true;
    let server = TestServer::start_with(config);
    let web = server.http_addr.unwrap();
    let browser = Browser::start(1000, 800);

    browser.open(&format!("http://{web}/watch/movie.Mjpeg"));
    let status = browser.find("#status");
    wait_within("the status line says it plays", 10, || {
        browser.text(&status) == "Playing"
    });
    wait_within("the browser is a session", 5, || server.sessions() == 1);
    let video = browser.rect(&browser.find("#v"));
    assert!(video.width >= 320.0 && video.height >= 240.0, "{video:?}");
    let first = browser.screenshot();
    std::thread::sleep(Duration::from_secs(1));
    let second = browser.screenshot();
    save(&first, "watch-1.png");
    save(&second, "watch-2.png");
    let moved = first.changed_within(&second, video, 1.0);
    assert!(
        moved > 0.002,
        "the picture moves: {:.4} of its pixels changed",
        moved
    );
    let header = mjpegrtsp_tests::browser::Rect {
        x: 0.0,
        y: 0.0,
        width: 1000.0,
        height: 50.0,
    };
    assert_eq!(
        first.changed_within(&second, header, 1.0),
        0.0,
        "the page around it does not"
    );

    browser.open(&format!("http://{web}/"));
    let card = browser.find("article.card h2 a");
    assert_eq!(browser.text(&card), "movie.Mjpeg");
    let url = browser.find(".url code");
    assert_eq!(
        browser.text(&url),
        format!("rtsp://127.0.0.1:{}/movie.Mjpeg", server.addr.port())
    );
    // The thumbnail is a real picture (the snapshot), not a broken image.
    std::thread::sleep(Duration::from_millis(500));
    let index = browser.screenshot();
    save(&index, "index.png");
    let thumb = browser.rect(&browser.find("img.thumb"));
    let blank = Screenshot {
        width: index.width,
        height: index.height,
        rgba: vec![0; index.rgba.len()],
        png: Vec::new(),
    };
    assert!(
        index.changed_within(&blank, thumb, 1.0) > 0.01,
        "the thumbnail shows the video"
    );
    drop(browser);
    wait_within("the browser's session ended", 10, || server.sessions() == 0);
}
