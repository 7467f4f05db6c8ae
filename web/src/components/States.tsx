// The three states every data view has besides "here is the data".
import type { ReactNode } from "react";

export function Loading({ what }: { what: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      Loading {what}…
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty" data-testid="empty">
      <strong>{title}</strong>
      {children && <div className="state-hint">{children}</div>}
    </div>
  );
}

export function ErrorState({ error, retry }: { error: Error; retry?: () => void }) {
  return (
    <div className="state state-error" role="alert" data-testid="error">
      <strong>Something went wrong</strong>
      <div className="state-hint">{error.message}</div>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

// Shows loading / error / empty for a fetch, else renders `children(data)`.
export function Async<T>(props: {
  state: { data: T | undefined; error: Error | undefined; loading: boolean; reload: () => void };
  what: string;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  children: (data: T) => ReactNode;
}) {
  const { data, error, loading, reload } = props.state;
  if (data === undefined) {
    if (error) return <ErrorState error={error} retry={reload} />;
    if (loading) return <Loading what={props.what} />;
    return null;
  }
  return (
    <>
      {error && <div className="banner banner-error" role="alert">Refresh failed: {error.message}</div>}
      {props.isEmpty?.(data) ? props.empty ?? <Empty title={`No ${props.what}`} /> : props.children(data)}
    </>
  );
}
