// A data table that works from the keyboard: rows with a link are focusable
// (Tab reaches the table, ↑/↓ move between rows, Enter opens the row),
// sortable columns are buttons in the header. Sorting itself belongs to the
// caller (most lists are sorted by the server), the table only reports clicks.
import { type KeyboardEvent, type ReactNode } from "react";
import { navigate } from "../lib/router";

export interface Column<T> {
  key: string;
  title: ReactNode;
  render: (row: T) => ReactNode;
  sortable?: boolean;
  align?: "left" | "right";
  width?: string;
}

export interface Sort {
  key: string;
  desc: boolean;
}

export function Table<T>(props: {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  rowHref?: (row: T) => string | undefined;
  sort?: Sort;
  onSort?: (sort: Sort) => void;
  testId?: string;
  caption?: string;
}) {
  const { columns, rows, rowKey, rowHref, sort, onSort } = props;

  const onKeyDown = (e: KeyboardEvent<HTMLTableRowElement>, href: string | undefined) => {
    const row = e.currentTarget;
    if (e.key === "Enter" && href) {
      e.preventDefault();
      navigate(href);
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const next = (e.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling) as HTMLElement | null;
      next?.focus();
    }
  };

  return (
    <div className="table-wrap">
      <table className="table" data-testid={props.testId}>
        {props.caption && <caption className="sr-only">{props.caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => {
              const active = sort?.key === c.key;
              return (
                <th
                  key={c.key}
                  style={{ width: c.width, textAlign: c.align ?? "left" }}
                  aria-sort={active ? (sort!.desc ? "descending" : "ascending") : undefined}
                >
                  {c.sortable && onSort ? (
                    <button
                      type="button"
                      className="th-sort"
                      onClick={() => onSort({ key: c.key, desc: active ? !sort!.desc : true })}
                    >
                      {c.title}
                      <span aria-hidden="true">{active ? (sort!.desc ? " ▼" : " ▲") : ""}</span>
                    </button>
                  ) : (
                    c.title
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const href = rowHref?.(row);
            return (
              <tr
                key={rowKey(row)}
                tabIndex={href ? 0 : undefined}
                className={href ? "row-link" : undefined}
                onClick={(e) => {
                  if (!href || (e.target as HTMLElement).closest("a,button,input,select")) return;
                  navigate(href);
                }}
                onKeyDown={(e) => onKeyDown(e, href)}
              >
                {columns.map((c) => (
                  <td key={c.key} style={{ textAlign: c.align ?? "left" }}>
                    {c.render(row)}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
