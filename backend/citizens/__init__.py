"""Citizens' reports: by SMS (RAC <point>, DEN <lamp>, free text) and by the public form."""
