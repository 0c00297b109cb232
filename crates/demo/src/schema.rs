//! The schema, the seed data and the API token, set up on first start.
//!
//! `items` holds the catalogue; `items_fts` is an FTS5 index over its
//! name, description and tags (kept in step by triggers, so every write
//! path updates it); `tokens` holds the bearer tokens the API accepts.
//! `PRAGMA user_version` records that the seed ran, so a restart keeps the
//! data as the last run left it and the token stays the same.
//!
//! Everything here runs inside a [`Db::call`](crate::db::Db::call) closure,
//! on a pool worker.

use std::hash::{BuildHasher, RandomState};
use std::io::Read;

use rusqlite::{params, Connection, OptionalExtension};

/// How many items the seed creates.
pub(crate) const SEED_ITEMS: usize = 400;

/// The user the generated token belongs to.
const DEMO_USER: &str = "demo";

/// Tables, the full-text index and the triggers that maintain it.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    tags        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    user  TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS items_fts USING fts5(
    name, description, tags,
    content = 'items', content_rowid = 'id', tokenize = 'porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS items_ai AFTER INSERT ON items BEGIN
    INSERT INTO items_fts (rowid, name, description, tags)
    VALUES (new.id, new.name, new.description, new.tags);
END;
CREATE TRIGGER IF NOT EXISTS items_ad AFTER DELETE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, name, description, tags)
    VALUES ('delete', old.id, old.name, old.description, old.tags);
END;
CREATE TRIGGER IF NOT EXISTS items_au AFTER UPDATE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, name, description, tags)
    VALUES ('delete', old.id, old.name, old.description, old.tags);
    INSERT INTO items_fts (rowid, name, description, tags)
    VALUES (new.id, new.name, new.description, new.tags);
END;
";

/// What setting up the database found or did.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    /// The API token.
    pub(crate) token: String,
    /// Items in the catalogue.
    pub(crate) items: i64,
    /// Whether this start created the schema and seeded it.
    pub(crate) seeded: bool,
}

/// Creates what is missing (schema, seed, token) and reports the state.
pub(crate) fn setup(conn: &mut Connection) -> rusqlite::Result<Setup> {
    let tx = conn.transaction()?;
    tx.execute_batch(SCHEMA)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let seeded = version == 0;
    if seeded {
        seed(&tx)?;
        tx.execute_batch("PRAGMA user_version = 1")?;
    }
    let found: Option<String> = tx
        .query_row(
            "SELECT token FROM tokens WHERE user = ?1 ORDER BY rowid LIMIT 1",
            [DEMO_USER],
            |r| r.get(0),
        )
        .optional()?;
    let token = match found {
        Some(t) => t,
        None => {
            let t = new_token();
            tx.execute(
                "INSERT INTO tokens (token, user) VALUES (?1, ?2)",
                params![t, DEMO_USER],
            )?;
            t
        }
    };
    let items = tx.query_row("SELECT count(*) FROM items", [], |r| r.get(0))?;
    tx.commit()?;
    Ok(Setup {
        token,
        items,
        seeded,
    })
}

/// A fresh random token: `demo-` and 32 hex digits.
fn new_token() -> String {
    let mut b = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if random.is_err() {
        let s = RandomState::new();
        let now = std::time::SystemTime::now();
        b[..8].copy_from_slice(&s.hash_one((now, 1u8)).to_le_bytes());
        b[8..].copy_from_slice(&s.hash_one((now, 2u8)).to_le_bytes());
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("demo-{hex}")
}

/// Styles, the first word of a name.
const STYLES: [&str; 10] = [
    "Nordic", "Classic", "Compact", "Travel", "Studio", "Heritage", "Minimal", "Rustic", "Modern",
    "Field",
];

/// Materials, the second word of a name, and a tag.
const MATERIALS: [&str; 16] = [
    "Walnut",
    "Oak",
    "Copper",
    "Brass",
    "Linen",
    "Ceramic",
    "Bamboo",
    "Glass",
    "Wool",
    "Leather",
    "Marble",
    "Stoneware",
    "Cedar",
    "Steel",
    "Cotton",
    "Porcelain",
];

/// Objects with their category tag and base price in cents.
const OBJECTS: [(&str, &str, i64); 25] = [
    ("Lamp", "lighting", 6900),
    ("Lantern", "lighting", 4500),
    ("Teapot", "kitchen", 3900),
    ("Kettle", "kitchen", 5500),
    ("Mug", "kitchen", 1400),
    ("Skillet", "kitchen", 4900),
    ("Cutting Board", "kitchen", 3200),
    ("Bowl", "kitchen", 1800),
    ("Desk", "furniture", 34900),
    ("Chair", "furniture", 18900),
    ("Stool", "furniture", 8900),
    ("Bookshelf", "furniture", 27900),
    ("Notebook", "office", 1200),
    ("Fountain Pen", "office", 7800),
    ("Desk Tray", "office", 2600),
    ("Backpack", "travel", 11900),
    ("Duffel Bag", "travel", 13900),
    ("Water Bottle", "travel", 2900),
    ("Vase", "decor", 3600),
    ("Candle", "decor", 2200),
    ("Wall Clock", "decor", 5900),
    ("Mirror", "decor", 9900),
    ("Blanket", "textiles", 8400),
    ("Cushion", "textiles", 3400),
    ("Planter", "garden", 2700),
];

/// Second halves of the first sentence of a description.
const PHRASES: [&str; 12] = [
    "built to last for decades",
    "hand-finished in a small workshop",
    "ideal for small kitchens and studio flats",
    "perfect for reading late at night",
    "light enough to carry on long trips",
    "that ages beautifully with daily use",
    "made from reclaimed and recycled materials",
    "finished with natural oil and beeswax",
    "with a lifetime repair guarantee",
    "designed in Copenhagen and made in Portugal",
    "that doubles as a thoughtful gift",
    "tested in mountain huts through a whole winter",
];

/// Extra tags some items get.
const EXTRA_TAGS: [&str; 6] = ["gift", "sale", "eco", "bestseller", "new", "limited"];

/// A small deterministic generator (xorshift64*), so every fresh database
/// gets the same catalogue.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One seed item: name, description, price and tags.
fn seed_item(i: usize, rng: &mut Rng) -> (String, String, i64, String) {
    // Walk the combinations with a stride coprime to their count, so no
    // two items share a name.
    let combos = STYLES.len() * MATERIALS.len() * OBJECTS.len();
    let k = (i * 7919 + 13) % combos;
    let style = STYLES[k % STYLES.len()];
    let material = MATERIALS[(k / STYLES.len()) % MATERIALS.len()];
    let (object, category, base) = OBJECTS[k / (STYLES.len() * MATERIALS.len())];
    let name = format!("{style} {material} {object}");
    let other = OBJECTS[rng.below(OBJECTS.len())].0.to_lowercase();
    let description = format!(
        "A {} {} in {}, {}. Pairs well with our {other}.",
        style.to_lowercase(),
        object.to_lowercase(),
        material.to_lowercase(),
        PHRASES[rng.below(PHRASES.len())],
    );
    let price = base + (rng.below(40) as i64 - 20) * base / 100 + 99 - base % 100;
    let mut tags = vec![category.to_owned(), material.to_lowercase()];
    if rng.below(3) == 0 {
        tags.push(EXTRA_TAGS[rng.below(EXTRA_TAGS.len())].to_owned());
    }
    (name, description, price.max(99), tags.join(","))
}

/// Inserts the seed catalogue.
fn seed(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "INSERT INTO items (name, description, price_cents, tags) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..SEED_ITEMS {
        let (name, description, price, tags) = seed_item(i, &mut rng);
        stmt.execute(params![name, description, price, tags])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_names_are_unique_and_prices_positive() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let items: Vec<_> = (0..SEED_ITEMS).map(|i| seed_item(i, &mut rng)).collect();
        let mut names: Vec<_> = items.iter().map(|i| i.0.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SEED_ITEMS);
        assert!(items.iter().all(|i| i.2 > 0 && !i.3.is_empty()));
    }
}
