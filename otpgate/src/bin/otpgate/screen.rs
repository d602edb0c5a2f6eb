//! The enrollment screen: the QR code drawn on a terminal, the key in groups of four.

use otpcore::{KeyUri, Secret};
use otpgate::GateError;
pub use otpgate::{grouped_key, qr_svg_image};
use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

fn qr(uri: &str) -> Result<QrCode, GateError> {
    QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::L)
        .map_err(|e| GateError::QrCode(format!("{e} (shorten the issuer or the user id)")))
}

/// Whether an enrollment of `user` for `issuer` can be shown, checked before anything is
/// written: its screen drawn for a URI of the same length (a new secret of the size
/// `enroll` generates), so a QR code too long for the URI fails before the user is stored.
pub fn check_drawable(user: &str, issuer: &str) -> Result<(), GateError> {
    let secret = Secret::generate()?;
    let uri = KeyUri::totp(user).with_issuer(issuer);
    let mut buf = Zeroizing::new(vec![0u8; uri.encoded_len(&secret)?]);
    let text = uri.to_buf(&secret, buf.as_mut_slice())?;
    enrollment_screen(user, &grouped_key(&secret)?, text).map(|_| ())
}

/// Modules of light margin around the code: drawn in white, so it is there on a dark
/// terminal too.
const QUIET_ZONE: usize = 2;

/// The QR code as rows of half blocks (two modules per character cell), dark modules black
/// on a white background, in explicit colours: the same polarity on light and dark
/// terminals, as phone cameras expect.
fn qr_rows(uri: &str) -> Result<Vec<String>, GateError> {
    let code = qr(uri)?;
    let width = code.width();
    let colors = code.to_colors();
    let side = width.saturating_add(QUIET_ZONE.saturating_mul(2));
    let dark = |x: usize, y: usize| -> bool {
        let (Some(x), Some(y)) = (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) else {
            return false;
        };
        x < width
            && y < width
            && y.checked_mul(width)
                .and_then(|row| row.checked_add(x))
                .and_then(|i| colors.get(i))
                == Some(&Color::Dark)
    };
    let mut rows = Vec::new();
    for y in (0..side).step_by(2) {
        let mut row = String::from("\x1b[30;107m");
        for x in 0..side {
            row.push(match (dark(x, y), dark(x, y.saturating_add(1))) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        row.push_str("\x1b[0m");
        rows.push(row);
    }
    Ok(rows)
}

/// The terminal the enrollment is laid out for.
const COLUMNS: usize = 80;
const LINES: usize = 24;

/// How many terminal rows `text` takes on a terminal [`COLUMNS`] wide.
fn rows_on_terminal(text: &str) -> usize {
    text.lines()
        .map(|line| visible_width(line).div_ceil(COLUMNS).max(1))
        .sum()
}

/// The width of a line without its colour escape sequences.
fn visible_width(line: &str) -> usize {
    let mut width = 0usize;
    let mut in_escape = false;
    for c in line.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width = width.saturating_add(1),
        }
    }
    width
}

/// The enrollment in one screen: the QR code with the instructions beside it, then the
/// URI on one line. It fits 80x24 (with a line left for the prompt) for user ids and
/// issuers of usual length; a longer one ends with a line saying how to see it all.
pub fn enrollment_screen(user: &str, key: &str, uri: &str) -> Result<Zeroizing<String>, GateError> {
    let rows = qr_rows(uri)?;
    let key_groups: Vec<&str> = key.split(' ').collect();
    let (first, second) = key_groups.split_at(key_groups.len().min(4));
    let side = Zeroizing::new([
        format!("Enroll {user}"),
        String::from("(pending until confirmed)"),
        String::new(),
        String::from("1. Scan this QR code with an"),
        String::from("   authenticator app, or type"),
        String::from("   the setup key:"),
        format!("   {}", first.join(" ")),
        format!("   {}", second.join(" ")),
        String::new(),
        String::from("2. Confirm with its code:"),
        String::from("   otpgate confirm USER CODE"),
    ]);
    let qr_width = rows.first().map_or(0, |r| visible_width(r));
    let side_width = side.iter().map(|l| visible_width(l)).max().unwrap_or(0);
    let beside = qr_width.saturating_add(2).saturating_add(side_width) <= COLUMNS;
    // Sized up front (the rows, the side text, the URI and the notice), so the screen,
    // which holds the key, is never copied into a grown buffer and freed unwiped.
    let size = rows
        .iter()
        .chain(side.iter())
        .map(|l| l.len().saturating_add(qr_width).saturating_add(4))
        .sum::<usize>()
        .saturating_add(uri.len())
        .saturating_add(256);
    let mut screen = Zeroizing::new(String::with_capacity(size));
    let lines = if beside {
        rows.len().max(side.len())
    } else {
        rows.len()
    };
    for i in 0..lines {
        match rows.get(i) {
            Some(row) => screen.push_str(row),
            None => (0..qr_width).for_each(|_| screen.push(' ')),
        }
        if let Some(text) = side.get(i).filter(|t| beside && !t.is_empty()) {
            screen.push_str("  ");
            screen.push_str(text);
        }
        screen.push('\n');
    }
    if !beside {
        for line in side.iter() {
            screen.push_str(line);
            screen.push('\n');
        }
    }
    screen.push_str(uri);
    if rows_on_terminal(&screen) >= LINES {
        screen.push_str(
            "\n(taller than a 24-line terminal: scroll up, or write the QR code to an image \
             with --qr-svg FILE; --json prints the key and URI alone)",
        );
    }
    Ok(screen)
}
