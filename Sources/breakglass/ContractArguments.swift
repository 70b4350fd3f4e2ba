import ArgumentParser
import BreakglassAPI

// The contract's fixed sets of values, taken as they are on the command line: a value the broker would refuse
// is refused while parsing, with the list of those it takes, and `--help` and shell completion show them.
extension Components.Schemas.CredentialKind: ExpressibleByArgument {}
extension Components.Schemas.RetroDeadlineBasis: ExpressibleByArgument {}
extension Components.Schemas.PostgresTLSMode: ExpressibleByArgument {}
extension Components.Schemas.PostgresAccessMode: ExpressibleByArgument {}
extension Components.Schemas.ChannelKind: ExpressibleByArgument {}
