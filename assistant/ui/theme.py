"""A sober State look (DSFR-like colours) with system fonts only: no web font, no CDN."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from assistant.wording import load_wording

BLEU_FRANCE = "#000091"
ROUGE_MARIANNE = "#E1000F"

# Only font *names*: plain strings make Gradio emit no @font-face and no stylesheet URL.
FONTS = ("Marianne", "Arial", "Helvetica", "Liberation Sans", "sans-serif")
FONTS_MONO = ("DejaVu Sans Mono", "Consolas", "monospace")

CSS_PATH = Path(__file__).with_name("style.css")
HEAD_PATH = Path(__file__).with_name("head.html")

_blue = gr.themes.Color(
    c50="#f5f5fe", c100="#ececfe", c200="#cacafb", c300="#a1a1f8", c400="#6a6af4", c500="#000091",
    c600="#000091", c700="#1212ff", c800="#00006d", c900="#000050", c950="#000035", name="bleu_france",
)
_grey = gr.themes.Color(
    c50="#f6f6f6", c100="#eeeeee", c200="#dddddd", c300="#cecece", c400="#929292", c500="#666666",
    c600="#3a3a3a", c700="#2a2a2a", c800="#1e1e1e", c900="#161616", c950="#0d0d0d", name="gris",
)


def _font(name: str) -> gr.themes.Font | str:
    """A plain Font is only a quoted name (no stylesheet); generic families stay bare strings."""
    return name if name in ("sans-serif", "monospace") else gr.themes.Font(name)


def build_theme() -> gr.themes.Base:
    """Square corners, blue-France accents, grey neutrals; dark variants mapped to the light ones."""
    theme = gr.themes.Base(
        primary_hue=_blue, secondary_hue=_blue, neutral_hue=_grey,
        radius_size=gr.themes.sizes.radius_none, text_size=gr.themes.sizes.text_md,
        font=[_font(name) for name in FONTS], font_mono=[_font(name) for name in FONTS_MONO],
    )
    light = {
        "body_background_fill": "#f6f6f6",
        "body_text_color": "#161616",
        "body_text_color_subdued": "#666666",
        "background_fill_primary": "#ffffff",
        "background_fill_secondary": "#f6f6f6",
        "border_color_primary": "#dddddd",
        "block_background_fill": "#ffffff",
        "block_border_color": "#dddddd",
        "block_label_text_color": "#3a3a3a",
        "block_title_text_color": "#161616",
        "block_title_text_weight": "700",
        "input_background_fill": "#eeeeee",
        "input_border_color": "#3a3a3a",
        "input_border_width": "0 0 2px 0",
        "button_primary_background_fill": BLEU_FRANCE,
        "button_primary_background_fill_hover": "#1212ff",
        "button_primary_text_color": "#ffffff",
        "button_primary_border_color": BLEU_FRANCE,
        "button_secondary_background_fill": "#ffffff",
        "button_secondary_background_fill_hover": "#f5f5fe",
        "button_secondary_text_color": BLEU_FRANCE,
        "button_secondary_border_color": BLEU_FRANCE,
        "link_text_color": BLEU_FRANCE,
        "link_text_color_hover": "#1212ff",
        "link_text_color_visited": "#6a6af4",
        "color_accent": BLEU_FRANCE,
        "color_accent_soft": "#e3e3fd",
        "checkbox_background_color": "#ffffff",
        "checkbox_border_color": "#3a3a3a",
        "checkbox_border_width": "1px",
        "checkbox_background_color_selected": BLEU_FRANCE,
        "checkbox_border_color_selected": BLEU_FRANCE,
        "slider_color": BLEU_FRANCE,
        "loader_color": BLEU_FRANCE,
        "error_background_fill": "#ffe9e9",
        "error_border_color": ROUGE_MARIANNE,
        "error_text_color": "#ce0500",
        "shadow_drop": "none",
        "shadow_drop_lg": "0 1px 3px rgba(0,0,18,.16)",
        "block_shadow": "none",
    }
    # The app is designed for a light page: keep it light even under a dark OS preference.
    theme.set(**light, **{f"{key}_dark": value for key, value in light.items() if hasattr(theme, f"{key}_dark")})
    return theme


def load_css() -> str:
    return CSS_PATH.read_text(encoding="utf-8")


def load_head() -> str:
    """The page's <head> additions, with the French labels that replace Gradio's English ones."""
    labels = json.dumps(load_wording().mapping("ui.gradio_labels"), ensure_ascii=False)
    return HEAD_PATH.read_text(encoding="utf-8").replace("__GRADIO_LABELS__", labels.replace("</", "<\\/"))
