from engine.entry import run

run()
