// Errors the CLI prints as one clear line (no stack): the user can act on them.
export class AgentStartError extends Error {
  override name = 'AgentStartError';
}

/** An error in how the command was called: printed as one line, exit code 2. */
export class UsageError extends Error {}
