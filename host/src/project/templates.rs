//! The project templates, built into the binary (templates/project/ and, for
//! Rust, the in-repository plugin template's sources), so `host plugin new`
//! works anywhere. `{{name}}` is the project's name, `{{Name}}` its
//! CamelCase form (the Rust transform type).

use super::Lang;

macro_rules! template {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../templates/", $path))
    };
}

/// Files every project has: the samples and their golden output.
const SAMPLES: [(&str, &str); 2] = [
    (
        super::SAMPLES_INPUT,
        template!("project/samples/input.jsonl"),
    ),
    (
        super::SAMPLES_EXPECTED,
        template!("project/samples/expected.jsonl"),
    ),
];

/// The files of a new project in `lang`: (path in the project, template text).
pub fn files(lang: Lang) -> Vec<(&'static str, &'static str)> {
    let mut files: Vec<(&str, &str)> = match lang {
        Lang::Rust => vec![
            ("Cargo.toml", template!("project/rust/Cargo.toml")),
            ("README.md", template!("project/rust/README.md")),
            (".gitignore", template!("project/rust/gitignore")),
            ("src/lib.rs", template!("plugin/src/lib.rs")),
            ("src/tests.rs", template!("plugin/src/tests.rs")),
        ],
        Lang::Js => vec![
            ("package.json", template!("project/js/package.json")),
            ("README.md", template!("project/js/README.md")),
            (".gitignore", template!("project/js/gitignore")),
            ("transform.js", template!("project/js/transform.js")),
            (
                "transform.test.js",
                template!("project/js/transform.test.js"),
            ),
        ],
        Lang::Python => vec![
            ("pyproject.toml", template!("project/python/pyproject.toml")),
            ("README.md", template!("project/python/README.md")),
            (".gitignore", template!("project/python/gitignore")),
            ("app.py", template!("project/python/app.py")),
            ("test_app.py", template!("project/python/test_app.py")),
        ],
    };
    files.extend(SAMPLES);
    files
}

/// A template's text for the project `name` (transform type `type_name`).
pub fn fill(text: &str, name: &str, type_name: &str) -> String {
    text.replace("{{name}}", name)
        .replace("{{Name}}", type_name)
}
