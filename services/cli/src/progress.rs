//! Progress of a long load on standard error: redrawn in place at most ten times a second
//! on a terminal, a plain line every few seconds otherwise (a log file or CI output stays
//! readable). Standard output stays free for the summary a script reads.

use std::{
    io::{IsTerminal, Write},
    time::{Duration, Instant},
};

use crate::checkpoint::Totals;

/// Draws progress lines.
pub struct Progress {
    enabled: bool,
    terminal: bool,
    started: Instant,
    last_drawn: Option<Instant>,
    /// Reports answered when this run started (a resumed load), so the rate is this run's.
    base_reports: u64,
    drawn_in_place: bool,
}

impl Progress {
    /// Progress on standard error; `enabled` false draws nothing.
    pub fn new(enabled: bool, base: Totals) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let started = Instant::now();
        Self {
            enabled,
            terminal,
            started,
            // Plain lines start after the first interval: a short load prints none.
            last_drawn: (!terminal).then_some(started),
            base_reports: base.reports + base.unparseable,
            drawn_in_place: false,
        }
    }

    fn interval(&self) -> Duration {
        if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        }
    }

    /// Reports `totals` after `lines` lines, if it is time to draw again.
    pub fn update(&mut self, lines: u64, totals: &Totals) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self
            .last_drawn
            .is_some_and(|last| now.duration_since(last) < self.interval())
        {
            return;
        }
        self.last_drawn = Some(now);
        self.draw(lines, totals);
    }

    fn draw(&mut self, lines: u64, totals: &Totals) {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let done = (totals.reports + totals.unparseable).saturating_sub(self.base_reports);
        let line = format!(
            "{} lines, {} reports/s: {} accepted, {} duplicate, {} rejected, {} conflicting",
            group(lines),
            group((done as f64 / elapsed) as u64),
            group(totals.accepted),
            group(totals.duplicates),
            group(totals.rejected),
            group(totals.already_exists),
        );
        let mut stderr = std::io::stderr().lock();
        // Progress is best effort: a closed standard error must not stop a load.
        let _ = if self.terminal {
            self.drawn_in_place = true;
            write!(stderr, "\r\x1b[2K{line}")
        } else {
            writeln!(stderr, "{line}")
        };
        let _ = stderr.flush();
    }

    /// Draws the final counts in place (a throttled redraw may have missed them) and ends
    /// the line, so the summary starts on a fresh one.
    pub fn finish(&mut self, lines: u64, totals: &Totals) {
        if self.drawn_in_place {
            self.draw(lines, totals);
            let _ = writeln!(std::io::stderr());
            self.drawn_in_place = false;
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1_234_567), "1,234,567");
    }
}
