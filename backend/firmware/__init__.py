"""Updates over the air: releases of the nodes' application, offers to devices, and what each
device made of them (docs/firmware.md, "Updates over the air")."""
