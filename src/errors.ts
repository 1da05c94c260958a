/** Base class of every error Waypoint throws on purpose, so callers can tell ours from a bug. */
export class WaypointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor shape does not fit an op; the message names the op and the shapes involved. */
export class ShapeError extends WaypointError {
  constructor(
    readonly op: string,
    detail: string,
  ) {
    super(`${op}: ${detail}`);
  }
}

/** An argument is out of its valid range (a rate, an axis, an option value). */
export class ArgumentError extends WaypointError {}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Names in an error message, at most `max` of them and a count of the rest: a message stays one readable line. */
export function listSome(names: readonly string[], max = 10): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}
