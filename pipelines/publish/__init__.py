"""Safe publishing: analysts only ever read a finished, checked warehouse file."""
