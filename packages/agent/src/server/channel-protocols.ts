/**
 * The agent's side of the exec/attach/port-forward channel protocols: the framing is shared
 * (@flotilla/api); the final Status messages are the agent's.
 */

export { CLOSE, chooseProtocol, ERROR, EXEC_PROTOCOLS, frame, hasStatusChannel, PORT_FORWARD_PROTOCOLS, RESIZE, STDERR, STDIN, STDOUT } from '@flotilla/api/core';

/** The Status an exec ends with: Success, or Failure with the exit code as kubectl reads it. */
export function exitStatus(exitCode: number | undefined, command: string[]): Record<string, unknown> {
  if (exitCode === undefined || exitCode === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** A Failure Status for errors before or while running the command. */
export function errorStatus(message: string, code = 500): Record<string, unknown> {
  return { metadata: {}, status: 'Failure', message, reason: code === 404 ? 'NotFound' : code === 400 ? 'BadRequest' : 'InternalError', code };
}
