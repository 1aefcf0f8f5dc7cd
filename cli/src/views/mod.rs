//! The views of the long-running commands (`register`, `farm`): what a person sees on a
//! terminal (a live line or table), plain notes on stderr elsewhere, or `--json` lines.
//! Each view reads the two event streams, the per-target one and the device one
//! ([`EventSink`]); the words come from [`crate::words`], the JSON from [`crate::events`].

pub mod farm;
pub mod register;

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use regpow_chain::SessionEvent;
use regpow_registrar::DeviceEvent;

use crate::output;

/// What a view does with the streams of a run: its own events, the devices' and the chain
/// session's (each said once, however many targets share them).
pub trait EventSink<E> {
    /// An event of the run (a registration's, or a farm's).
    fn on_event(&mut self, event: E);
    /// An event of the devices.
    fn on_device(&mut self, event: DeviceEvent);
    /// An event of the chain session: the connection dropping and coming back are shown.
    fn on_session(&mut self, event: SessionEvent) {
        if let Some(line) = crate::events::session_json(&event) {
            if self.screen().json {
                output::json(&line);
            }
        }
        if let Some(text) = crate::words::session(&event) {
            self.screen().note(text);
        }
    }
    /// The subnets' state at a new head, once for every registration (a farm's view says
    /// each head once from it).
    fn on_head_state(&mut self, _state: std::sync::Arc<regpow_chain::HeadState>) {}
    /// Where the view writes.
    fn screen(&self) -> &Screen;
}

/// Where a view writes: a live line redrawn in place on a terminal (notes go above it), or
/// plain lines on stderr; nothing of it with `--json` (stdout carries the JSON lines).
pub struct Screen {
    /// `--json`.
    pub json: bool,
    bar: Option<ProgressBar>,
}

impl Screen {
    /// A screen; the live line only on a terminal without `--json`, with `template` for
    /// indicatif and redrawn every `tick`.
    pub fn new(json: bool, template: &'static str, tick: Duration) -> Self {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template(template).expect("static template"));
            bar.enable_steady_tick(tick);
            bar
        });
        Self { json, bar }
    }

    /// Whether a live line is drawn.
    pub fn is_live(&self) -> bool {
        self.bar.is_some()
    }

    /// A notable event: a line above the live line, or on stderr (never with `--json`).
    pub fn note(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None if !self.json => output::err!("{text}"),
            None => {}
        }
    }

    /// Redraws the live line with `text`.
    pub fn set_live(&self, text: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(text);
        }
    }

    /// Clears the live line for good.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
