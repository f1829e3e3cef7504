"""The journal's schema as SQL, one migration per version (PRAGMA user_version); the store runs them."""

MIGRATIONS = [
    # v1: the journal and a key/value table for daemon facts (next training run, ...).
    """
    CREATE TABLE videos (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER,
        mtime REAL,
        sha256 TEXT,
        state TEXT NOT NULL CHECK (state IN ('seen', 'stable', 'processing', 'done', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        outputs TEXT,
        duplicate_of INTEGER REFERENCES videos(id),
        location TEXT,
        next_attempt REAL NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        finished REAL
    );
    CREATE UNIQUE INDEX videos_active_path ON videos(path) WHERE state IN ('seen', 'stable', 'processing');
    CREATE INDEX videos_sha256 ON videos(sha256);
    CREATE INDEX videos_state ON videos(state, next_attempt);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # v2: per-frame scores of each processed content, the predictions training learns from.
    """
    CREATE TABLE scores (
        sha256 TEXT PRIMARY KEY,
        scorer TEXT NOT NULL,
        model TEXT,
        times BLOB NOT NULL,
        scores BLOB NOT NULL,
        updated REAL NOT NULL
    );
    """,
    # v3: deaths of the service from outside (kill, OOM, reboot) while a video was processed,
    # counted apart from the video's own attempts.
    """
    ALTER TABLE videos ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;
    """,
]
