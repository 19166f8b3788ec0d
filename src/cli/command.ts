/** The shape every CLI command module exports. */
export interface Command {
  name: string;
  /** One line for `microsteer --help`. */
  summary: string;
  /** Full usage text for `microsteer NAME --help`. */
  usage: string;
  run(argv: string[]): Promise<void>;
}
