package sqlite

import "strings"

// The queries strato runs, named once so that the set prepared at open and the
// statements the transactions run are the same strings.
const (
	resourceColumns = `account, region, kind, id, COALESCE(name, ''), COALESCE(parent, ''), created_at, body`
	tagColumns      = `resource_id, resource_kind, key, value`

	qInsertAccount   = `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`
	qGetAccount      = `SELECT id, name, created_at FROM accounts WHERE id = ?`
	qListAccounts    = `SELECT id, name, created_at FROM accounts ORDER BY created_at, id`
	qInsertAccessKey = `INSERT INTO access_keys (id, secret, account_id, created_at) VALUES (?, ?, ?, ?)`
	qGetAccessKey    = `SELECT id, secret, account_id, created_at FROM access_keys WHERE id = ?`

	qInsertResource   = `INSERT INTO resources (account, region, kind, id, name, parent, created_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qUpdateResource   = `UPDATE resources SET body = ?, name = ?, parent = ? WHERE account = ? AND region = ? AND kind = ? AND id = ?`
	qGetResource      = `SELECT ` + resourceColumns + ` FROM resources WHERE account = ? AND region = ? AND kind = ? AND id = ?`
	qGetResourceNamed = `SELECT ` + resourceColumns + ` FROM resources WHERE account = ? AND region = ? AND kind = ? AND name = ?`
	qListResources    = `SELECT ` + resourceColumns + ` FROM resources WHERE account = ? AND region = ? AND kind = ? ORDER BY id`
	qListChildren     = `SELECT ` + resourceColumns + ` FROM resources WHERE account = ? AND region = ? AND kind = ? AND parent = ? ORDER BY id`
	qDeleteResource   = `DELETE FROM resources WHERE account = ? AND region = ? AND kind = ? AND id = ?`

	qCountResources   = `SELECT COUNT(*) FROM resources WHERE account = ? AND region = ? AND kind = ?`
	qGetQuota         = `SELECT value FROM quotas WHERE account = ? AND name = ?`
	qPutQuota         = `INSERT INTO quotas (account, name, value) VALUES (?, ?, ?) ON CONFLICT (account, name) DO UPDATE SET value = excluded.value`
	qDeleteQuota      = `DELETE FROM quotas WHERE account = ? AND name = ?`
	qListQuotas       = `SELECT name, value FROM quotas WHERE account = ? ORDER BY name`
	qListTagsInScope  = `SELECT ` + tagColumns + ` FROM tags WHERE account = ? AND region = ?`
	qTagsOrder        = ` ORDER BY resource_id, key`
	qListTagsByKind   = `SELECT ` + tagColumns + ` FROM tags WHERE account = ? AND region = ? AND resource_kind = ?` + qTagsOrder
	qPutTag           = `INSERT INTO tags (account, region, resource_id, resource_kind, key, value) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, resource_id, key) DO UPDATE SET value = excluded.value`
	qDeleteTag        = `DELETE FROM tags WHERE account = ? AND region = ? AND resource_id = ? AND key = ?`
	qDeleteAllTags    = `DELETE FROM tags WHERE account = ? AND region = ? AND resource_id = ?`
	qGetIdempotency   = `SELECT params_hash, response, created_at FROM idempotency WHERE account = ? AND region = ? AND action = ? AND token = ?`
	qPutIdempotency   = `INSERT INTO idempotency (account, region, action, token, params_hash, response, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
	qGetSetting       = `SELECT value FROM settings WHERE key = ?`
	qPutSetting       = `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`
	maxPreparedTagIDs = 8
)

// taggedIDsQuery finds the resources of a kind carrying a tag with one of n values.
// No ORDER BY: with one, SQLite walks the primary key in resource order through
// every tag of the scope instead of seeking tags_by_value; the caller sorts the few
// IDs found.
func taggedIDsQuery(n int) string {
	return `SELECT resource_id FROM tags WHERE account = ? AND region = ? AND resource_kind = ? AND key = ? AND value IN (?` +
		strings.Repeat(",?", n-1) + `)`
}

// listTagsQuery is the tag listing for n resource IDs (0: the whole scope).
func listTagsQuery(n int) string {
	if n == 0 {
		return qListTagsInScope + qTagsOrder
	}
	return qListTagsInScope + ` AND resource_id IN (?` + strings.Repeat(",?", n-1) + `)` + qTagsOrder
}

// preparedQueries lists what each pool prepares at open. Tag listings for up to
// maxPreparedTagIDs resources are prepared; longer lists are prepared per call.
func preparedQueries() []string {
	qs := []string{
		qInsertAccount, qGetAccount, qListAccounts, qInsertAccessKey, qGetAccessKey,
		qInsertResource, qUpdateResource, qGetResource, qGetResourceNamed, qListResources, qListChildren, qDeleteResource,
		qCountResources, qGetQuota, qPutQuota, qDeleteQuota, qListQuotas,
		qListTagsByKind, qPutTag, qDeleteTag, qDeleteAllTags, qGetIdempotency, qPutIdempotency, qGetSetting, qPutSetting,
	}
	for n := 0; n <= maxPreparedTagIDs; n++ {
		qs = append(qs, listTagsQuery(n))
		if n > 0 {
			qs = append(qs, taggedIDsQuery(n))
		}
	}
	return qs
}
