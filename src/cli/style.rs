//! How the command line decorates what it prints. `--color auto|always|never` decides, for
//! stdout and stderr each: `always` and `never` are taken as said; `auto` colors a stream only
//! when it is a terminal and the environment allows it (`NO_COLOR` set and not empty turns
//! color off, `CLICOLOR_FORCE` turns it on, `CLICOLOR=0` and `TERM=dumb` off: the conventions
//! of no-color.org and bixense.com/clicolors, as anstream reads them).

use std::fmt::Display;

use anstyle::{AnsiColor, Style};
use clap::ColorChoice;

/// Whether one output stream is decorated, and the styles it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    enabled: bool,
}

impl Palette {
    /// A palette that decorates (`true`) or prints plain text.
    pub fn new(enabled: bool) -> Palette {
        Palette { enabled }
    }

    /// The palette for stdout under `choice`.
    pub fn stdout(choice: ColorChoice) -> Palette {
        Palette::new(resolve(choice, &std::io::stdout()))
    }

    /// The palette for stderr under `choice` (log lines, warnings).
    pub fn stderr(choice: ColorChoice) -> Palette {
        Palette::new(resolve(choice, &std::io::stderr()))
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Titles, query names, highlighted words.
    pub fn bold<T: Display>(&self, text: T) -> Styled<T> {
        self.styled(Style::new().bold(), text)
    }

    /// What is wrong (an invalid query).
    pub fn error<T: Display>(&self, text: T) -> Styled<T> {
        self.styled(
            Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
            text,
        )
    }

    /// What is fine (an active query).
    pub fn good<T: Display>(&self, text: T) -> Styled<T> {
        self.styled(Style::new().fg_color(Some(AnsiColor::Green.into())), text)
    }

    /// Secondary details (paths, dates).
    pub fn dim<T: Display>(&self, text: T) -> Styled<T> {
        self.styled(Style::new().dimmed(), text)
    }

    /// The opening and closing escapes of bold text (empty when plain), for text whose
    /// markup is replaced (`<b>` in snippets).
    pub fn bold_markers(&self) -> (String, String) {
        let style = Style::new().bold();
        if self.enabled {
            (style.render().to_string(), style.render_reset().to_string())
        } else {
            (String::new(), String::new())
        }
    }

    fn styled<T: Display>(&self, style: Style, text: T) -> Styled<T> {
        Styled {
            style: if self.enabled { style } else { Style::new() },
            text,
        }
    }
}

/// Text printed in a style (no escapes at all for the plain style).
pub struct Styled<T> {
    style: Style,
    text: T,
}

impl<T: Display> Display for Styled<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.style == Style::new() {
            return self.text.fmt(f);
        }
        write!(f, "{}", self.style.render())?;
        self.text.fmt(f)?;
        write!(f, "{}", self.style.render_reset())
    }
}

/// `choice` for one stream: `auto` asks anstream (terminal and environment).
fn resolve<S: anstream::stream::RawStream>(choice: ColorChoice, stream: &S) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => !matches!(
            anstream::AutoStream::<S>::choice(stream),
            anstream::ColorChoice::Never
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_palette_prints_no_escape() {
        let plain = Palette::new(false);
        let text = format!(
            "{} {} {} {}",
            plain.bold("a"),
            plain.error("b"),
            plain.good("c"),
            plain.dim("d")
        );
        assert_eq!(text, "a b c d");
        assert_eq!(plain.bold_markers(), (String::new(), String::new()));
    }

    #[test]
    fn a_color_palette_wraps_in_escapes() {
        let color = Palette::new(true);
        let text = color.error("bad").to_string();
        assert!(
            text.starts_with("\x1b[") && text.ends_with("\x1b[0m"),
            "{text:?}"
        );
        assert!(text.contains("bad"));
        assert_eq!(color.bold_markers().0, "\x1b[1m");
    }

    #[test]
    fn always_and_never_are_taken_as_said() {
        // Whatever the environment of the test process says.
        assert!(resolve(ColorChoice::Always, &std::io::stdout()));
        assert!(!resolve(ColorChoice::Never, &std::io::stdout()));
    }
}
