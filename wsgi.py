from repository import create_app

app = create_app()
