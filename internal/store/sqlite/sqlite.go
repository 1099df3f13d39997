// Package sqlite implements store.Store on an embedded SQLite database (pure Go driver,
// so strato builds with CGO_ENABLED=0). One writer connection serialises writes
// (BEGIN IMMEDIATE); a small pool of read-only connections serves reads in WAL mode.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"sort"
	"strings"
	"time"

	"strato/internal/store"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is a store.Store backed by one SQLite file.
type DB struct {
	write pool
	read  pool
}

// pool is a connection pool with its prepared statements: preparing a statement costs
// more than running a point query, so every query strato runs often is prepared once,
// when the store opens (database/sql then keeps it prepared on each connection it runs
// on). They cannot be prepared lazily: the write pool's one connection is held by the
// transaction that would need it.
type pool struct {
	db    *sql.DB
	stmts map[string]*sql.Stmt // query text -> statement; read-only after open
}

func newPool(ctx context.Context, db *sql.DB) (pool, error) {
	p := pool{db: db, stmts: map[string]*sql.Stmt{}}
	for _, q := range preparedQueries() {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			p.close()
			return pool{}, fmt.Errorf("preparing %q: %w", q, err)
		}
		p.stmts[q] = st
	}
	return p, nil
}

func (p pool) close() error {
	var errs []error
	for _, st := range p.stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(append(errs, p.db.Close())...)
}

// Open opens (creating if needed) the database at path and brings its schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	dsn := func(extra string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		// FULL: a commit is on disk before the response goes out, even on power loss.
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "foreign_keys(1)")
		return "file:" + path + "?" + q.Encode() + extra
	}
	write, err := sql.Open("sqlite", dsn("&_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("migrating %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", dsn("&_pragma=query_only(1)"))
	if err != nil {
		write.Close()
		return nil, err
	}
	n := runtime.GOMAXPROCS(0) * 2
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	wp, err := newPool(ctx, write)
	if err != nil {
		read.Close()
		return nil, err
	}
	rp, err := newPool(ctx, read)
	if err != nil {
		wp.close()
		return nil, err
	}
	return &DB{write: wp, read: rp}, nil
}

// Close closes both connection pools.
func (d *DB) Close() error {
	return errors.Join(d.read.close(), d.write.close())
}

// View runs fn in a read-only transaction.
func (d *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	return runTx(ctx, d.read, &sql.TxOptions{ReadOnly: true}, fn)
}

// Update runs fn in a write transaction.
func (d *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	return runTx(ctx, d.write, nil, fn)
}

func runTx(ctx context.Context, p pool, opts *sql.TxOptions, fn func(store.Tx) error) error {
	sqlTx, err := p.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(&tx{ctx: ctx, tx: sqlTx, pool: p}); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// migrations are applied in order; the schema_version table records how many ran.
// Append only: never edit a migration that has shipped.
var migrations = []string{
	`CREATE TABLE accounts (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		created_at INTEGER NOT NULL
	);
	CREATE TABLE access_keys (
		id TEXT PRIMARY KEY,
		secret TEXT NOT NULL,
		account_id TEXT NOT NULL REFERENCES accounts(id),
		created_at INTEGER NOT NULL
	);
	CREATE TABLE resources (
		account TEXT NOT NULL,
		region TEXT NOT NULL,
		kind TEXT NOT NULL,
		id TEXT NOT NULL,
		name TEXT,
		created_at INTEGER NOT NULL,
		body BLOB NOT NULL,
		PRIMARY KEY (account, region, kind, id)
	);
	CREATE UNIQUE INDEX resources_by_name ON resources(account, region, kind, name) WHERE name IS NOT NULL;
	CREATE INDEX resources_by_id ON resources(account, region, id);
	CREATE TABLE tags (
		account TEXT NOT NULL,
		region TEXT NOT NULL,
		resource_id TEXT NOT NULL,
		resource_kind TEXT NOT NULL,
		key TEXT NOT NULL,
		value TEXT NOT NULL,
		PRIMARY KEY (account, region, resource_id, key)
	);
	CREATE TABLE idempotency (
		account TEXT NOT NULL,
		region TEXT NOT NULL,
		action TEXT NOT NULL,
		token TEXT NOT NULL,
		params_hash TEXT NOT NULL,
		response BLOB NOT NULL,
		created_at INTEGER NOT NULL,
		PRIMARY KEY (account, region, action, token)
	);
	CREATE TABLE settings (
		key TEXT PRIMARY KEY,
		value BLOB NOT NULL
	);`,
	`CREATE TABLE quotas (
		account TEXT NOT NULL,
		name TEXT NOT NULL,
		value INTEGER NOT NULL,
		PRIMARY KEY (account, name)
	);`,
	`ALTER TABLE resources ADD COLUMN parent TEXT;
	CREATE INDEX resources_by_parent ON resources(account, region, kind, parent) WHERE parent IS NOT NULL;
	CREATE INDEX tags_by_value ON tags(account, region, resource_kind, key, value);`,
	// Children are listed ordered by ID: with the ID in the index, SQLite reads
	// only the parent's rows in order instead of scanning the whole kind by the
	// primary key to skip the sort.
	`DROP INDEX resources_by_parent;
	CREATE INDEX resources_by_parent ON resources(account, region, kind, parent, id) WHERE parent IS NOT NULL;`,
}

func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var version int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version VALUES (0)`); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this strato (%d)", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return err
	}
	return tx.Commit()
}

type tx struct {
	ctx  context.Context
	tx   *sql.Tx
	pool pool
}

// Queries run through these three: prepared ones use the pool's statement, others
// (long IN lists) are prepared for the one call.

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	var res sql.Result
	var err error
	if st, ok := t.pool.stmts[query]; ok {
		res, err = t.tx.StmtContext(t.ctx, st).ExecContext(t.ctx, args...)
	} else {
		res, err = t.tx.ExecContext(t.ctx, query, args...)
	}
	if err != nil && isUniqueViolation(err) {
		return nil, store.ErrConflict
	}
	return res, err
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	if st, ok := t.pool.stmts[query]; ok {
		return t.tx.StmtContext(t.ctx, st).QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, query, args...)
}

func (t *tx) queryRow(query string, args ...any) *sql.Row {
	if st, ok := t.pool.stmts[query]; ok {
		return t.tx.StmtContext(t.ctx, st).QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, query, args...)
}

func isUniqueViolation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "PRIMARY KEY constraint failed")
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return err
}

func unix(t time.Time) int64 { return t.UnixNano() }

func fromUnix(n int64) time.Time { return time.Unix(0, n).UTC() }

func (t *tx) CreateAccount(a store.Account) error {
	_, err := t.exec(qInsertAccount, a.ID, a.Name, unix(a.CreatedAt))
	return err
}

func (t *tx) GetAccount(id string) (store.Account, error) {
	var a store.Account
	var created int64
	err := t.queryRow(qGetAccount, id).Scan(&a.ID, &a.Name, &created)
	a.CreatedAt = fromUnix(created)
	return a, notFound(err, "account "+id)
}

func (t *tx) ListAccounts() ([]store.Account, error) {
	rows, err := t.query(qListAccounts)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		var a store.Account
		var created int64
		if err := rows.Scan(&a.ID, &a.Name, &created); err != nil {
			return nil, err
		}
		a.CreatedAt = fromUnix(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

func (t *tx) CreateAccessKey(k store.AccessKey) error {
	_, err := t.exec(qInsertAccessKey, k.ID, k.Secret, k.AccountID, unix(k.CreatedAt))
	return err
}

func (t *tx) GetAccessKey(id string) (store.AccessKey, error) {
	var k store.AccessKey
	var created int64
	err := t.queryRow(qGetAccessKey, id).Scan(&k.ID, &k.Secret, &k.AccountID, &created)
	k.CreatedAt = fromUnix(created)
	return k, notFound(err, "access key")
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (t *tx) InsertResource(r store.Resource) error {
	_, err := t.exec(qInsertResource,
		r.Account, r.Region, r.Kind, r.ID, nullable(r.Name), nullable(r.Parent), unix(r.CreatedAt), r.Body)
	return err
}

func (t *tx) UpdateResource(r store.Resource) error {
	res, err := t.exec(qUpdateResource,
		r.Body, nullable(r.Name), nullable(r.Parent), r.Account, r.Region, r.Kind, r.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s %s: %w", r.Kind, r.ID, store.ErrNotFound)
	}
	return nil
}

func scanResource(row interface{ Scan(...any) error }) (store.Resource, error) {
	var r store.Resource
	var created int64
	err := row.Scan(&r.Account, &r.Region, &r.Kind, &r.ID, &r.Name, &r.Parent, &created, &r.Body)
	r.CreatedAt = fromUnix(created)
	return r, err
}

func (t *tx) GetResource(s store.Scope, kind, id string) (store.Resource, error) {
	r, err := scanResource(t.queryRow(qGetResource, s.Account, s.Region, kind, id))
	return r, notFound(err, kind+" "+id)
}

func (t *tx) GetResourceByName(s store.Scope, kind, name string) (store.Resource, error) {
	r, err := scanResource(t.queryRow(qGetResourceNamed, s.Account, s.Region, kind, name))
	return r, notFound(err, kind+" named "+name)
}

func (t *tx) ListResources(s store.Scope, kind string) ([]store.Resource, error) {
	return scanResources(t.query(qListResources, s.Account, s.Region, kind))
}

func (t *tx) ListChildren(s store.Scope, kind, parent string) ([]store.Resource, error) {
	return scanResources(t.query(qListChildren, s.Account, s.Region, kind, parent))
}

func scanResources(rows *sql.Rows, err error) ([]store.Resource, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Resource
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *tx) TaggedIDs(s store.Scope, kind, key string, values []string) ([]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	args := []any{s.Account, s.Region, kind, key}
	for _, v := range values {
		args = append(args, v)
	}
	rows, err := t.query(taggedIDsQuery(len(values)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, rows.Err()
}

func (t *tx) DeleteResource(s store.Scope, kind, id string) error {
	res, err := t.exec(qDeleteResource, s.Account, s.Region, kind, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s %s: %w", kind, id, store.ErrNotFound)
	}
	_, err = t.exec(qDeleteAllTags, s.Account, s.Region, id)
	return err
}

func (t *tx) ListTags(s store.Scope, resourceIDs ...string) ([]store.Tag, error) {
	args := make([]any, 0, 2+len(resourceIDs))
	args = append(args, s.Account, s.Region)
	for _, id := range resourceIDs {
		args = append(args, id)
	}
	return scanTags(t.query(listTagsQuery(len(resourceIDs)), args...))
}

func (t *tx) ListTagsByKind(s store.Scope, kind string) ([]store.Tag, error) {
	return scanTags(t.query(qListTagsByKind, s.Account, s.Region, kind))
}

func scanTags(rows *sql.Rows, err error) ([]store.Tag, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Tag
	for rows.Next() {
		var tg store.Tag
		if err := rows.Scan(&tg.ResourceID, &tg.ResourceKind, &tg.Key, &tg.Value); err != nil {
			return nil, err
		}
		out = append(out, tg)
	}
	return out, rows.Err()
}

func (t *tx) PutTag(s store.Scope, tg store.Tag) error {
	_, err := t.exec(qPutTag,
		s.Account, s.Region, tg.ResourceID, tg.ResourceKind, tg.Key, tg.Value)
	return err
}

func (t *tx) DeleteTag(s store.Scope, resourceID, key string) error {
	_, err := t.exec(qDeleteTag, s.Account, s.Region, resourceID, key)
	return err
}

func (t *tx) GetIdempotency(s store.Scope, action, token string) (store.IdempotencyRecord, error) {
	r := store.IdempotencyRecord{Scope: s, Action: action, Token: token}
	var created int64
	err := t.queryRow(qGetIdempotency,
		s.Account, s.Region, action, token).Scan(&r.ParamsHash, &r.Response, &created)
	r.CreatedAt = fromUnix(created)
	return r, notFound(err, "client token")
}

func (t *tx) PutIdempotency(r store.IdempotencyRecord) error {
	_, err := t.exec(qPutIdempotency,
		r.Account, r.Region, r.Action, r.Token, r.ParamsHash, r.Response, unix(r.CreatedAt))
	return err
}

func (t *tx) CountResources(s store.Scope, kind string) (int, error) {
	var n int
	err := t.queryRow(qCountResources, s.Account, s.Region, kind).Scan(&n)
	return n, err
}

func (t *tx) GetQuota(account, name string) (int64, error) {
	var v int64
	err := t.queryRow(qGetQuota, account, name).Scan(&v)
	return v, notFound(err, "quota "+name)
}

func (t *tx) PutQuota(account, name string, value int64) error {
	_, err := t.exec(qPutQuota, account, name, value)
	return err
}

func (t *tx) DeleteQuota(account, name string) error {
	_, err := t.exec(qDeleteQuota, account, name)
	return err
}

func (t *tx) ListQuotas(account string) (map[string]int64, error) {
	rows, err := t.query(qListQuotas, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, rows.Err()
}

func (t *tx) GetSetting(key string) ([]byte, error) {
	var v []byte
	err := t.queryRow(qGetSetting, key).Scan(&v)
	return v, notFound(err, "setting "+key)
}

func (t *tx) PutSetting(key string, value []byte) error {
	_, err := t.exec(qPutSetting, key, value)
	return err
}
