// Errors the CLI prints as one clear line (no stack): the user can act on them.
export class AgentStartError extends Error {
  override name = 'AgentStartError';
}
