//! The pages' words: one Fluent catalogue per language (`locales/<lang>.ftl`), and which
//! language a visitor reads. Every key exists in Italian and English; a key missing in another
//! language falls back to English, then Italian, as mail does.

use std::collections::HashMap;

use fluent_bundle::{FluentArgs, FluentResource, FluentValue, concurrent::FluentBundle};

use crate::domain::language::Language;

const CATALOGUES: [(&str, &str); 8] = [
    ("it", include_str!("locales/it.ftl")),
    ("en", include_str!("locales/en.ftl")),
    ("fr", include_str!("locales/fr.ftl")),
    ("es", include_str!("locales/es.ftl")),
    ("ar", include_str!("locales/ar.ftl")),
    ("sq", include_str!("locales/sq.ftl")),
    ("uk", include_str!("locales/uk.ftl")),
    ("zh", include_str!("locales/zh.ftl")),
];

/// Languages written right to left.
const RIGHT_TO_LEFT: [&str; 1] = ["ar"];

/// The catalogues of every supported language, parsed once at start.
pub struct Catalogues {
    bundles: HashMap<&'static str, FluentBundle<FluentResource>>,
}

impl Catalogues {
    /// Parses every catalogue; a syntax error in one is a bug, and stops the start.
    pub fn load() -> anyhow::Result<Catalogues> {
        let mut bundles = HashMap::new();
        for (lang, source) in CATALOGUES {
            let resource = FluentResource::try_new(source.to_owned()).map_err(|(_, errors)| {
                anyhow::anyhow!("locales/{lang}.ftl does not parse: {errors:?}")
            })?;
            let id = lang
                .parse()
                .map_err(|error| anyhow::anyhow!("{lang} is not a language id: {error}"))?;
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Bidi isolation marks around values only help a right-to-left text.
            bundle.set_use_isolating(RIGHT_TO_LEFT.contains(&lang));
            bundle
                .add_resource(resource)
                .map_err(|errors| anyhow::anyhow!("locales/{lang}.ftl: {errors:?}"))?;
            bundles.insert(lang, bundle);
        }
        Ok(Catalogues { bundles })
    }

    /// The message `key` in `lang` (falling back to English, then Italian), with `args`; the
    /// key itself when no catalogue has it, so a missing text shows, and tests catch it.
    pub fn text(&self, lang: &str, key: &str, args: &[(&str, String)]) -> String {
        let fluent_args = (!args.is_empty()).then(|| {
            let mut fluent = FluentArgs::new();
            for (name, value) in args {
                fluent.set(*name, FluentValue::from(value.as_str()));
            }
            fluent
        });
        for candidate in [lang, "en", "it"] {
            let Some(bundle) = self.bundles.get(candidate) else {
                continue;
            };
            let Some(pattern) = bundle.get_message(key).and_then(|message| message.value()) else {
                continue;
            };
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, fluent_args.as_ref(), &mut errors);
            if !errors.is_empty() {
                tracing::warn!(lang = candidate, key, ?errors, "a page text did not format");
            }
            return text.into_owned();
        }
        tracing::warn!(lang, key, "no catalogue has this page text");
        key.to_owned()
    }

    /// Whether some catalogue has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.bundles.values().any(|bundle| bundle.has_message(key))
    }

    /// The keys of `lang`'s catalogue, to check that every language has every text.
    #[cfg(test)]
    fn keys(lang: &str) -> Vec<String> {
        let source = CATALOGUES
            .iter()
            .find(|(code, _)| *code == lang)
            .map(|(_, source)| *source)
            .unwrap_or_default();
        source
            .lines()
            .filter(|line| line.starts_with(|c: char| c.is_ascii_lowercase()))
            .filter_map(|line| line.split_once(" =").map(|(key, _)| key.trim().to_owned()))
            .collect()
    }
}

/// Whether `lang` is written right to left.
pub fn is_right_to_left(lang: &str) -> bool {
    RIGHT_TO_LEFT.contains(&lang)
}

/// The language a visitor reads, by what they said, most explicit first: the language switch
/// (`?lang=`), the cookie it left, then the browser's `Accept-Language`, then Italian.
pub fn negotiate(
    switch: Option<&str>,
    cookie: Option<&str>,
    accept_language: Option<&str>,
) -> Language {
    let supported = |code: &str| Language::parse_supported(code.trim()).ok();
    switch
        .and_then(supported)
        .or_else(|| cookie.and_then(supported))
        .or_else(|| accept_language.and_then(from_accept_language))
        .unwrap_or_else(Language::italian)
}

/// The supported language the browser prefers most (`fr-CH, fr;q=0.9, en;q=0.8`): ranges by
/// their weight, then their order; a region or script narrows nothing (`zh-Hant` reads `zh`).
fn from_accept_language(header: &str) -> Option<Language> {
    let mut ranges: Vec<(f32, usize, Language)> = header
        .split(',')
        .enumerate()
        .filter_map(|(order, item)| {
            let mut parts = item.split(';');
            let range = parts.next()?.trim();
            let weight = parts
                .find_map(|param| param.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            let primary = range.split('-').next()?;
            let language = Language::parse_supported(primary).ok()?;
            (weight > 0.0).then_some((weight, order, language))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges.into_iter().next().map(|(_, _, language)| language)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_text_italian_has() {
        let italian = Catalogues::keys("it");
        assert!(italian.len() > 50, "{} keys", italian.len());
        for lang in Language::SUPPORTED {
            let keys = Catalogues::keys(lang);
            let missing: Vec<_> = italian.iter().filter(|key| !keys.contains(key)).collect();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
        }
        Catalogues::load().expect("every catalogue parses");
    }

    #[test]
    fn texts_take_their_arguments() {
        let catalogues = Catalogues::load().unwrap();
        let text = catalogues.text("en", "seats-left", &[("count", "3".to_owned())]);
        assert!(text.contains('3'), "{text}");
        assert_eq!(catalogues.text("en", "no-such-key", &[]), "no-such-key");
    }

    #[test]
    fn the_switch_wins_then_the_cookie_then_the_browser() {
        let lang = |s, c, a| negotiate(s, c, a).to_string();
        assert_eq!(lang(Some("ar"), Some("fr"), Some("en")), "ar");
        assert_eq!(lang(Some("xx"), Some("fr"), Some("en")), "fr");
        assert_eq!(lang(None, None, Some("de-DE, uk;q=0.8, en;q=0.9")), "en");
        assert_eq!(lang(None, None, Some("zh-Hant-TW")), "zh");
        assert_eq!(lang(None, None, Some("en;q=0, fr;q=0.1")), "fr");
        assert_eq!(lang(None, None, Some("de")), "it");
        assert_eq!(lang(None, None, None), "it");
    }
}
