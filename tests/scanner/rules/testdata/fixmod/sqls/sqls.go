// Package sqls holds GPS109 cases.
package sqls

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
)

const usersTable = "users"

func Queries(ctx context.Context, db *sql.DB, name string, limit int) error {
	rows, err := db.Query("SELECT id FROM users WHERE name = '" + name + "'") // want GPS109
	if err != nil {
		return err
	}
	defer rows.Close()
	q := fmt.Sprintf("DELETE FROM users WHERE name = '%s'", name) // want GPS109
	if _, err := db.ExecContext(ctx, q); err != nil {
		return err
	}
	if _, err := db.Exec("select * from accounts where owner = " + name); err != nil { // want GPS109
		return err
	}
	if _, err := db.Exec("SELECT id FROM users WHERE name = ?", name); err != nil {
		return err
	}
	if _, err := db.Exec("SELECT id FROM " + usersTable + " LIMIT " + strconv.Itoa(limit)); err != nil {
		return err
	}
	count := fmt.Sprintf("SELECT count(*) FROM users LIMIT %d", limit)
	_ = count
	message := "select a file from the list: " + name
	_ = message
	return nil
}
