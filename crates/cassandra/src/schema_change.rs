//! CQL that goes with a plugin version: only additive statements, so a
//! deploy can never lose data and an older version keeps working on the
//! altered tables. Anything else is refused with what to do instead.

/// One statement checked and made ready to run in `keyspace`.
pub fn additive(statement: &str, keyspace: &str) -> Result<String, String> {
    let text = statement
        .replace("{keyspace}", keyspace)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let upper = text.to_ascii_uppercase();
    let words: Vec<&str> = upper.split(' ').collect();
    let refuse = |why: &str| {
        Err(format!(
            "`{}` {why}: a deploy may carry only CREATE TABLE [IF NOT EXISTS] and ALTER TABLE ... ADD; run other schema changes by hand (cqlsh) between deploys",
            sluice_model::text::cut(text.clone(), 120)
        ))
    };
    // The index of the table name in `words`.
    let name_at = match words.as_slice() {
        ["CREATE", "TABLE", "IF", "NOT", "EXISTS", _, ..] => 5,
        ["CREATE", "TABLE", _, ..] => 2,
        ["ALTER", "TABLE", _, "ADD", ..] => {
            if words[4..]
                .iter()
                .any(|w| matches!(*w, "DROP" | "RENAME" | "TYPE" | "WITH" | "ALTER"))
            {
                return refuse("changes more than it adds");
            }
            2
        }
        ["ALTER", "TABLE", ..] => return refuse("is not an ADD (destructive or in place)"),
        [first, ..] if matches!(*first, "DROP" | "TRUNCATE" | "DELETE") => {
            return refuse("is destructive")
        }
        _ => return refuse("is not a table creation or column addition"),
    };
    let original: Vec<&str> = text.split(' ').collect();
    let name = original[name_at];
    // `users(` in `CREATE TABLE users(id ...`: the name ends at the bracket.
    let (bare, rest) = match name.find('(') {
        Some(i) => name.split_at(i),
        None => (name, ""),
    };
    if bare.contains('.') {
        return Ok(text);
    }
    let mut words: Vec<String> = original.iter().map(|w| w.to_string()).collect();
    words[name_at] = format!("{keyspace}.{bare}{rest}");
    Ok(words.join(" "))
}

/// Whether a failed additive statement only found its work already done
/// (another host or an earlier try applied it).
pub fn already_done(error: &str) -> bool {
    let e = error.to_ascii_lowercase();
    e.contains("already exist") || e.contains("conflicts with an existing column")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additive_statements_are_qualified_with_the_keyspace() {
        assert_eq!(
            additive("ALTER TABLE created_users ADD nickname text", "ks").unwrap(),
            "ALTER TABLE ks.created_users ADD nickname text"
        );
        assert_eq!(
            additive(
                "create table if not exists  audit(id uuid PRIMARY KEY)",
                "ks"
            )
            .unwrap(),
            "create table if not exists ks.audit(id uuid PRIMARY KEY)"
        );
        assert_eq!(
            additive("CREATE TABLE {keyspace}.t (id int PRIMARY KEY)", "ks").unwrap(),
            "CREATE TABLE ks.t (id int PRIMARY KEY)"
        );
    }

    #[test]
    fn destructive_statements_are_refused_with_the_way_out() {
        for bad in [
            "DROP TABLE created_users",
            "ALTER TABLE created_users DROP email",
            "ALTER TABLE created_users ALTER email TYPE blob",
            "ALTER TABLE created_users RENAME id TO uid",
            "ALTER TABLE created_users ADD x int WITH comment = 'x'",
            "TRUNCATE created_users",
            "INSERT INTO created_users (id) VALUES (uuid())",
        ] {
            let e = additive(bad, "ks").unwrap_err();
            assert!(e.contains("run other schema changes by hand"), "{bad}: {e}");
        }
    }

    #[test]
    fn work_already_done_is_recognised() {
        assert!(already_done(
            "Invalid column name nickname because it conflicts with an existing column"
        ));
        assert!(already_done("Table ks.audit already exists"));
        assert!(!already_done("Unknown keyspace ks"));
    }
}
